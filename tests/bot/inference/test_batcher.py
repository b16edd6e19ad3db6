"""The micro-batcher: concurrent requests share batches, each caller gets its own result in order, a cancelled
request is dropped before its batch runs, and a failing request fails alone."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from bot import metrics
from bot.inference.batcher import MicroBatcher


class Recorder:
    """A batch function that doubles numbers, refuses "bad" ones, and remembers every batch it ran."""

    def __init__(self, gate: threading.Event | None = None):
        self.batches: list[list[object]] = []
        self.gate = gate

    def __call__(self, items: list[object]) -> list[object]:
        self.batches.append(list(items))
        if self.gate is not None:
            self.gate.wait(10)
        if "bad" in items:
            raise ValueError("cannot double 'bad'")
        return [item * 2 for item in items]  # type: ignore[operator]


def test_concurrent_requests_share_batches_and_each_gets_its_own_result() -> None:
    run = Recorder()
    batcher = MicroBatcher("test-share", run, max_batch=8, max_wait_ms=20)

    async def main() -> list[object]:
        return await asyncio.gather(*(batcher(n) for n in range(20)))

    try:
        assert asyncio.run(main()) == [n * 2 for n in range(20)]
    finally:
        batcher.close()
    assert sorted(n for batch in run.batches for n in batch) == list(range(20))  # every request ran exactly once
    assert max(len(b) for b in run.batches) == 8 and len(run.batches) <= 4   # batched, never over max_batch
    assert b'shopbot_batch_size_count{model="test-share"}' in metrics.exposition()


def test_threads_can_submit_too() -> None:
    run = Recorder()
    batcher = MicroBatcher("test-threads", run, max_batch=16, max_wait_ms=20)
    try:
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda n: batcher.submit(n).result(timeout=10), range(8)))
    finally:
        batcher.close()
    assert results == [n * 2 for n in range(8)]
    assert len(run.batches) < 8


def test_a_request_cancelled_before_its_batch_is_never_run() -> None:
    gate = threading.Event()
    run = Recorder(gate)
    batcher = MicroBatcher("test-cancel", run, max_batch=4, max_wait_ms=0)

    async def main() -> tuple[object, bool, object]:
        first = asyncio.ensure_future(batcher(1))
        while not run.batches:               # the first batch is running (held at the gate)
            await asyncio.sleep(0.005)
        second = asyncio.ensure_future(batcher(2))
        third = asyncio.ensure_future(batcher(3))
        await asyncio.sleep(0.01)
        second.cancel()                       # the caller left while its request still waited
        gate.set()
        return await first, second.cancelled(), await third

    try:
        assert asyncio.run(main()) == (2, True, 6)
    finally:
        batcher.close()
    assert [n for batch in run.batches for n in batch if n == 2] == []


def test_a_failing_request_does_not_fail_its_batch_mates() -> None:
    run = Recorder()
    batcher = MicroBatcher("test-fail", run, max_batch=8, max_wait_ms=30)

    async def main() -> list[object]:
        return await asyncio.gather(batcher(1), batcher("bad"), batcher(3), return_exceptions=True)

    try:
        first, bad, third = asyncio.run(main())
    finally:
        batcher.close()
    assert (first, third) == (2, 6)
    assert isinstance(bad, ValueError) and "bad" in str(bad)
    assert run.batches[0] == [1, "bad", 3]  # they did share a batch, which failed, then ran one by one
    assert b'shopbot_batch_failures_total{model="test-fail"} 1.0' in metrics.exposition()


def test_a_batch_function_returning_the_wrong_count_is_an_error_not_a_hang() -> None:
    batcher = MicroBatcher("test-count", lambda items: items[:-1], max_batch=4, max_wait_ms=0)
    try:
        with pytest.raises(RuntimeError, match="0 results for a batch of 1"):
            batcher.submit("x").result(timeout=10)
    finally:
        batcher.close()


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError):
        MicroBatcher("test-bad", Recorder(), max_batch=0)
    closed = MicroBatcher("test-closed", Recorder())
    closed.close()
    with pytest.raises(RuntimeError, match="closed"):
        closed.submit(1)
