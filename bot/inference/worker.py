"""A thread that serves a queue: started on first use, stopped by `close()` after what is already queued."""

from __future__ import annotations

import queue
import threading
from typing import Any

STOP = object()  # put on the queue by `close()`; the worker returns when it takes it


class QueueWorker:
    """Base of the batchers: `_put` queues an entry (starting the daemon thread once), `_loop` serves the queue."""

    def __init__(self, thread_name: str):
        self.thread_name = thread_name
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._worker: threading.Thread | None = None
        self._starting = threading.Lock()
        self._closed = False

    def close(self, timeout_s: float = 60) -> None:
        """Serve what is queued, then stop the thread; later `_put`s raise."""
        self._closed = True
        if self._worker is not None:
            self._queue.put(STOP)
            self._worker.join(timeout=timeout_s)

    def _put(self, entry: Any) -> None:
        if self._closed:
            raise RuntimeError(f"{self.thread_name} is closed")
        if self._worker is None:
            with self._starting:
                if self._worker is None:
                    self._worker = threading.Thread(target=self._loop, name=self.thread_name, daemon=True)
                    self._worker.start()
        self._queue.put(entry)

    def _loop(self) -> None:
        raise NotImplementedError
