"""Progress for every long step (training, embedding, index builds): a tqdm bar on a terminal, plain lines with an
estimate elsewhere (under `tee`, in a log file, in a container), at most one line every `PLAIN_INTERVAL_S` per task:

    Training NLU: 120/600 steps (20%), 1m05s elapsed, ETA 4m20s, loss=0.412

    for batch in progress_bar(batches, desc="Embedding", unit="batch", show=True): ...
    with progress_bar(total=600, desc="Training NLU", unit="step", show=True) as bar: bar.update(1)

Every bar in flight is also listed by `active_tasks()` (what `/ready` reports while the server is starting).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any

PLAIN_INTERVAL_S = 10.0
_ACTIVE: dict[int, PlainProgress] = {}
_LOCK = threading.Lock()


def duration(seconds: float) -> str:
    """`42s`, `3m05s`, `1h02m`."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def plural(unit: str) -> str:
    """`step` -> `steps`, `batch` -> `batches`, `query` -> `queries`."""
    if unit.endswith(("s", "x", "ch", "sh")):
        return unit + "es"
    if unit.endswith("y") and unit[-2:-1] not in ("a", "e", "i", "o", "u"):
        return unit[:-1] + "ies"
    return unit + "s"


class PlainProgress:
    """A progress bar as text lines: `desc: done/total unit (pct), elapsed, ETA`; the first line at once, then at
    most one every `interval_s`, and the last one when it closes. Supports the part of tqdm's API used here
    (iterating, `update`, `set_postfix`, `total`, `refresh`, `close`, `with`)."""

    def __init__(self, iterable: Iterable[Any] | None = None, total: int | None = None, desc: str = "",
                 unit: str = "it", stream: IO[str] | None = None, interval_s: float = PLAIN_INTERVAL_S,
                 clock: Callable[[], float] = time.monotonic, quiet: bool = False):
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)  # type: ignore[arg-type]
        self.iterable = iterable
        self.total = total
        self.desc = desc
        self.unit = unit
        self.n = 0
        self.postfix = ""
        self.stream = stream
        self.interval_s = interval_s
        self.clock = clock
        self.quiet = quiet            # counted and listed by `active_tasks`, never printed
        self.started = clock()
        self._printed_at: float | None = None
        self.closed = False
        with _LOCK:
            _ACTIVE[id(self)] = self
        self._print(force=True)

    def __iter__(self) -> Iterator[Any]:
        assert self.iterable is not None, "PlainProgress(total=...) is updated, not iterated"
        try:
            for item in self.iterable:
                yield item
                self.update(1)
        finally:
            self.close()

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def update(self, n: int = 1) -> None:
        self.n += n
        self._print()

    def set_postfix(self, **values: Any) -> None:
        self.postfix = ", ".join(f"{k}={v}" for k, v in values.items())

    def set_description(self, desc: str) -> None:
        self.desc = desc

    def refresh(self) -> None:
        """Nothing to redraw: the next line shows the new total."""

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        with _LOCK:
            _ACTIVE.pop(id(self), None)
        self._print(force=True, final=True)

    def elapsed_s(self) -> float:
        return self.clock() - self.started

    def eta_s(self) -> float | None:
        """Seconds left at the rate so far (None before the first step or without a total)."""
        if not self.total or self.n <= 0:
            return None
        return self.elapsed_s() / self.n * max(0, self.total - self.n)

    def line(self, final: bool = False) -> str:
        count = f"{self.n}/{self.total}" if self.total else str(self.n)
        parts = [f"{count} {plural(self.unit)}" + (f" ({100 * self.n / self.total:.0f}%)" if self.total else "")]
        if final:
            parts.append(f"done in {duration(self.elapsed_s())}")
        else:
            parts.append(f"{duration(self.elapsed_s())} elapsed")
            eta = self.eta_s()
            parts.append(f"ETA {duration(eta)}" if eta is not None else "ETA unknown")
        if self.postfix:
            parts.append(self.postfix)
        return f"{self.desc}: {', '.join(parts)}"

    def snapshot(self) -> dict[str, Any]:
        """This task as `/ready` shows it."""
        eta = self.eta_s()
        return {"task": self.desc, "done": self.n, "total": self.total, "elapsed_s": round(self.elapsed_s(), 1),
                "eta_s": round(eta, 1) if eta is not None else None}

    def _print(self, force: bool = False, final: bool = False) -> None:
        now = self.clock()
        if self.quiet or (not force and self._printed_at is not None and now - self._printed_at < self.interval_s):
            return
        self._printed_at = now
        stream = self.stream or sys.stderr
        try:
            stream.write(self.line(final) + "\n")
            stream.flush()
        except (OSError, ValueError):  # a closed or broken stream never stops the work it reports
            pass


def is_terminal(stream: IO[str] | None = None) -> bool:
    stream = stream or sys.stderr
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def progress_bar(iterable: Iterable[Any] | None = None, total: int | None = None, desc: str = "", unit: str = "it",
                 show: bool = True, leave: bool = True, stream: IO[str] | None = None) -> Any:
    """A tqdm bar when `show` and the stream (stderr) is a terminal, plain lines (`PlainProgress`) when `show` and it
    is not; with `show` false, nothing is printed (an iterable is returned as it is)."""
    if not show and iterable is not None:
        return iterable
    if show and is_terminal(stream):
        from tqdm.auto import tqdm

        bar = tqdm(iterable, total=total, desc=desc, unit=unit, leave=leave, file=stream)
        return _Listed(bar, desc, unit)
    return PlainProgress(iterable, total, desc, unit, stream=stream, quiet=not show)


class _Listed:
    """A tqdm bar that `active_tasks` also lists (tqdm's own attributes and methods pass through)."""

    def __init__(self, bar: Any, desc: str, unit: str):
        self._bar = bar
        self.desc = desc
        self.unit = unit
        with _LOCK:
            _ACTIVE[id(self)] = self  # type: ignore[assignment]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._bar, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in ("_bar", "desc", "unit"):
            object.__setattr__(self, name, value)
        else:
            setattr(self._bar, name, value)

    def __iter__(self) -> Iterator[Any]:
        try:
            yield from self._bar
        finally:
            self.close()

    def __enter__(self) -> _Listed:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with _LOCK:
            _ACTIVE.pop(id(self), None)
        self._bar.close()

    def snapshot(self) -> dict[str, Any]:
        bar = self._bar
        elapsed = bar.format_dict.get("elapsed", 0.0)
        eta = elapsed / bar.n * (bar.total - bar.n) if bar.total and bar.n else None
        return {"task": self.desc, "done": bar.n, "total": bar.total, "elapsed_s": round(elapsed, 1),
                "eta_s": round(eta, 1) if eta is not None else None}


def active_tasks() -> list[dict[str, Any]]:
    """Every progress bar in flight in this process: task, done, total, elapsed_s, eta_s."""
    with _LOCK:
        bars = list(_ACTIVE.values())
    return [bar.snapshot() for bar in bars]
