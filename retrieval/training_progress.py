"""A progress bar and a loss log for every trainer here: `step` is the loop body of the hand-written loops (the
NLU model, the responder LM); `trainer_callback` feeds the same bar from a Hugging Face `Trainer` (the FAQ
embedder, trained with sentence-transformers' trainer)."""

from __future__ import annotations

from typing import Any

from retrieval.progress import progress_bar


class TrainingProgress:
    """Runs optimizer steps on losses, records each loss, and shows it on a progress bar (when `show`: a tqdm bar
    on a terminal, plain lines with an estimate otherwise; see `retrieval.progress`)."""

    def __init__(self, total: int, description: str, show: bool):
        self.losses: list[float] = []
        self._bar = progress_bar(total=total, desc=description, unit="step", show=show)

    def step(self, loss: Any, optimizer: Any, schedule: Any = None) -> None:
        """Back-propagate `loss`, step the optimizer (and the learning-rate schedule), record the loss."""
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if schedule is not None:
            schedule.step()
        self.record(float(loss.detach()))

    def record(self, loss: float) -> None:
        """Record one finished step's loss and advance the bar (for steps someone else ran)."""
        self.losses.append(float(loss))
        self._bar.update(1)
        self._bar.set_postfix(loss=f"{self.losses[-1]:.3f}")

    def set_total(self, total: int) -> None:
        """Correct the number of steps once the trainer knows it."""
        self._bar.total = total
        self._bar.refresh()

    def close(self) -> None:
        self._bar.close()

    def mean_loss(self, first: int | None = None, last: int | None = None) -> float:
        """Mean of the first or last few losses (smoother than one step's), rounded to 4 places."""
        window = self.losses[:first] if first is not None else self.losses[-(last or len(self.losses)):]
        return round(sum(window) / max(1, len(window)), 4)


def trainer_callback(tracker: TrainingProgress) -> Any:
    """A `transformers.TrainerCallback` that shows a `Trainer`'s steps and losses on `tracker` (log every step:
    `logging_steps=1`). Imports transformers only when called."""
    from transformers import TrainerCallback

    class _ShowProgress(TrainerCallback):
        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if state.max_steps:
                tracker.set_total(state.max_steps)

        def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, float] | None = None,
                   **kwargs: Any) -> None:
            if logs and "loss" in logs:  # the end-of-training summary says "train_loss" instead
                tracker.record(logs["loss"])

    return _ShowProgress()
