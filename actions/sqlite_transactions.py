"""One write transaction on a shared SQLite connection, taken at once (`BEGIN IMMEDIATE`), so a read and the write
that depends on it cannot interleave with another thread's or another process's."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def immediate_transaction(db: sqlite3.Connection, lock: threading.Lock) -> Iterator[sqlite3.Connection]:
    """Commit on success, roll back on any exception (the connection must be in autocommit mode:
    `isolation_level=None`)."""
    with lock:
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
