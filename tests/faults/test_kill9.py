"""kill -9 of `shopbot serve` in the middle of turns (forms, streamed answers), then a restart: every reply a shopper
saw is in conversations.db, nothing is stored twice, and each conversation continues where it was.

`SHOPBOT_FAULT_KILLS` sets how many kills (default 2; benchmarks/faults/bench_kill9.py runs 20)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.faults.harness import kill9_run

pytestmark = pytest.mark.timeout(1800)


def test_kill_9_mid_turn_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    report = kill9_run(tmp_path, kills=int(os.environ.get("SHOPBOT_FAULT_KILLS") or 2))
    assert report["cut_by_a_crash"] >= 1, report   # the kills landed while shoppers were waiting for replies
    assert report["lost"] == [] and report["duplicated"] == [] and report["unanswered"] == []
    assert report["unexpected"] == []
    assert report["acknowledged"] >= 20
