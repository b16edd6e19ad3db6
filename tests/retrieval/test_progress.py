"""Plain progress lines when the output is not a terminal (under `tee`, in a log): a real short loop writing to a
stream that is not a tty; an estimate on every line, at most one line per interval and task, the last on close."""

from __future__ import annotations

import io
import re

from retrieval.progress import PlainProgress, active_tasks, duration, plural, progress_bar
from retrieval.training_progress import TrainingProgress

LINE = re.compile(r"^Embedding: (\d+)/(\d+) batches \((\d+)%\), (\d+s) elapsed, ETA (\d+s|unknown)$")


def test_a_loop_not_on_a_terminal_prints_plain_lines_with_an_estimate() -> None:
    stream = io.StringIO()
    assert not stream.isatty()
    seen = [item for item in progress_bar(range(5), desc="Embedding", unit="batch", stream=stream, show=True)]
    assert seen == list(range(5))
    lines = stream.getvalue().splitlines()
    # the first line at once, then none within the 10 s interval (this loop takes far less), the last on close
    assert len(lines) == 2, lines
    assert LINE.match(lines[0]) and lines[0].startswith("Embedding: 0/5 batches (0%)") and "ETA unknown" in lines[0]
    assert lines[1].startswith("Embedding: 5/5 batches (100%), done in ")


def test_every_update_past_the_interval_is_a_line_with_done_total_elapsed_and_eta() -> None:
    stream = io.StringIO()
    with progress_bar(total=4, desc="Training NLU", unit="step", stream=stream) as bar:
        bar.interval_s = 0.0   # every update is past the interval: one line each
        for loss in (0.9, 0.7, 0.5, 0.3):
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.3f}")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1 + 4 + 1, lines
    for number, line in enumerate(lines[1:5], start=1):
        assert line.startswith(f"Training NLU: {number}/4 steps ({25 * number}%), ") and " elapsed, ETA " in line
    assert lines[2].endswith("loss=0.900") and lines[-1].endswith("loss=0.300") and "done in" in lines[-1]


def test_a_clock_past_the_interval_prints_again_and_within_it_does_not() -> None:
    now = [100.0]
    stream = io.StringIO()
    bar = PlainProgress(total=100, desc="Tuning", unit="step", stream=stream, clock=lambda: now[0])
    for _ in range(10):
        now[0] += 1.0
        bar.update(1)          # 10 s in 1 s steps: only the step that reaches 10 s prints
    now[0] += 30.0
    bar.update(10)             # 20/100 after 40 s: 160 s left at that rate
    bar.close()
    lines = stream.getvalue().splitlines()
    assert lines[0] == "Tuning: 0/100 steps (0%), 0s elapsed, ETA unknown"
    assert lines[1] == "Tuning: 10/100 steps (10%), 10s elapsed, ETA 1m30s"
    assert lines[2] == "Tuning: 20/100 steps (20%), 40s elapsed, ETA 2m40s"
    assert lines[3] == "Tuning: 20/100 steps (20%), done in 40s" and len(lines) == 4


def test_bars_in_flight_are_listed_and_hidden_ones_print_nothing() -> None:
    stream = io.StringIO()
    bar = progress_bar(total=3, desc="Building index", unit="batch", stream=stream, show=False)
    bar.update(2)
    listed = [task for task in active_tasks() if task["task"] == "Building index"]
    assert listed and listed[0]["done"] == 2 and listed[0]["total"] == 3 and listed[0]["eta_s"] is not None
    bar.close()
    assert stream.getvalue() == "" and not [t for t in active_tasks() if t["task"] == "Building index"]
    assert list(progress_bar(range(3), show=False)) == [0, 1, 2]


def test_a_training_loop_reports_through_the_same_lines(capsys) -> None:
    tracker = TrainingProgress(3, "Training recommender", show=True)   # pytest's captured stderr is no terminal
    for loss in (1.0, 0.5, 0.25):
        tracker.record(loss)
    tracker.close()
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("Training recommender: 0/3 steps (0%)")
    assert err[-1].startswith("Training recommender: 3/3 steps (100%), done in ") and err[-1].endswith("loss=0.250")
    assert tracker.mean_loss(last=2) == 0.375


def test_durations_and_units_read_as_words() -> None:
    assert [duration(s) for s in (0, 42, 185, 3725)] == ["0s", "42s", "3m05s", "1h02m"]
    assert [plural(u) for u in ("step", "batch", "query", "day")] == ["steps", "batches", "queries", "days"]
