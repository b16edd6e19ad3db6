"""One optimizer step with a progress bar and a loss log: the loop body every trainer here shares
(the FAQ embedder, the NLU model, the responder LM)."""

from __future__ import annotations

from typing import Any

from tqdm.auto import tqdm


class TrainingProgress:
    """Runs optimizer steps on losses, records each loss, and shows it on a progress bar (when `show`)."""

    def __init__(self, total: int, description: str, show: bool):
        self.losses: list[float] = []
        self._bar = tqdm(total=total, desc=description, unit="step", disable=not show)

    def step(self, loss: Any, optimizer: Any, schedule: Any = None) -> None:
        """Back-propagate `loss`, step the optimizer (and the learning-rate schedule), record the loss."""
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if schedule is not None:
            schedule.step()
        self.losses.append(float(loss.detach()))
        self._bar.update(1)
        self._bar.set_postfix(loss=f"{self.losses[-1]:.3f}")

    def close(self) -> None:
        self._bar.close()

    def mean_loss(self, first: int | None = None, last: int | None = None) -> float:
        """Mean of the first or last few losses (smoother than one step's), rounded to 4 places."""
        window = self.losses[:first] if first is not None else self.losses[-(last or len(self.losses)):]
        return round(sum(window) / max(1, len(window)), 4)
