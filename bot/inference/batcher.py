"""Micro-batching: requests from concurrent turns are gathered for at most `max_wait_ms` (or until `max_batch` are
waiting), run as one batch on a worker thread, and resolved to their callers.

Callers on the event loop `await batcher(item)`; callers on other threads block on `batcher.submit(item).result()`.
A request cancelled before its batch starts is dropped from it. When a batch fails, its requests are retried one
by one, so a bad request fails alone and its batch-mates still get their answers.

>>> batcher = MicroBatcher("nlu", parser.parse_batch, max_batch=32, max_wait_ms=2)
>>> await batcher("where is my order?")
"""

from __future__ import annotations

import asyncio
import logging
import queue
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Generic, TypeVar

from bot import metrics
from bot.inference.worker import STOP, QueueWorker

Item = TypeVar("Item")
Result = TypeVar("Result")
log = logging.getLogger("shopbot.batching")


class MicroBatcher(QueueWorker, Generic[Item, Result]):
    """Gathers single requests into batches for `run_batch` (a list in, a list of the same length out)."""

    def __init__(self, name: str, run_batch: Callable[[list[Item]], Sequence[Result]], max_batch: int = 32,
                 max_wait_ms: float = 2.0):
        if max_batch < 1 or max_wait_ms < 0:
            raise ValueError("max_batch must be at least 1 and max_wait_ms not negative")
        super().__init__(f"batcher-{name}")
        self.name = name
        self.run_batch = run_batch
        self.max_batch = max_batch
        self.max_wait_s = max_wait_ms / 1000

    def submit(self, item: Item) -> Future:
        """Queue one request; the future resolves to its result (or its own exception)."""
        future: Future = Future()
        self._put((item, future, time.perf_counter()))
        return future

    async def __call__(self, item: Item) -> Result:
        """Await one request's result without blocking the event loop; cancelling the await drops the request."""
        return await asyncio.wrap_future(self.submit(item))

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is STOP:
                return
            batch = [first]
            deadline = time.perf_counter() + self.max_wait_s
            stopping = False
            while len(batch) < self.max_batch:
                try:
                    waiting = max(0.0, deadline - time.perf_counter())
                    entry = self._queue.get(timeout=waiting) if waiting else self._queue.get_nowait()
                except queue.Empty:
                    break
                if entry is STOP:
                    stopping = True
                    break
                batch.append(entry)
            self._run(batch)  # type: ignore[arg-type]
            if stopping:
                return

    def _run(self, batch: list[tuple[Item, Future, float]]) -> None:
        live = [(item, future, queued) for item, future, queued in batch if future.set_running_or_notify_cancel()]
        if not live:
            return
        started = time.perf_counter()
        for _, _, queued in live:
            metrics.BATCH_QUEUE_SECONDS.labels(self.name).observe(started - queued)
        metrics.BATCH_SIZE.labels(self.name).observe(len(live))
        try:
            results = list(self.run_batch([item for item, _, _ in live]))
            if len(results) != len(live):
                raise RuntimeError(f"{self.name}: {len(results)} results for a batch of {len(live)}")
        except Exception as exc:  # noqa: BLE001 - isolate the failing request(s), never fail the whole batch
            if len(live) == 1:
                metrics.BATCH_FAILURES.labels(self.name).inc()
                live[0][1].set_exception(exc)
                return
            log.warning("%s batch of %d failed (%s); retrying its requests one by one", self.name, len(live), exc)
            for item, future, _ in live:
                self._run_alone(item, future)
            return
        finally:
            metrics.BATCH_SECONDS.labels(self.name).observe(time.perf_counter() - started)
        for (_, future, _), result in zip(live, results):
            future.set_result(result)

    def _run_alone(self, item: Item, future: Future) -> None:
        try:
            results = list(self.run_batch([item]))
            if len(results) != 1:
                raise RuntimeError(f"{self.name}: {len(results)} results for one request")
            future.set_result(results[0])
        except Exception as exc:  # noqa: BLE001 - this request's own failure, given to its caller
            metrics.BATCH_FAILURES.labels(self.name).inc()
            future.set_exception(exc)
