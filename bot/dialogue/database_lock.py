"""One process per conversation database unless Redis coordinates them.

Without `dialogue.redis_url` each server process only locks conversations in its own memory, so two processes on one
database would run the same conversation's turns at once. The conversation store therefore takes an exclusive lock
on its database for the life of the process: an OS file lock next to a SQLite file (`filelock`; the OS drops it when
the process dies, kill -9 included), or a PostgreSQL session advisory lock held on a dedicated connection (dropped
when that connection closes). A second process on the same database refuses to start with `StoreRefused`.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from bot.dialogue.errors import StateUnavailable, StoreRefused

log = logging.getLogger("shopbot.store")
SEVERAL = "set dialogue.redis_url (SHOPBOT_REDIS_URL) to run several processes on one database"
# One key per database (advisory locks are scoped to the database): a signed 64-bit number from a fixed name.
ADVISORY_KEY = int.from_bytes(hashlib.sha256(b"shopbot:conversations").digest()[:8], "big", signed=True)


class DatabaseLock:
    """Held from `acquire` until `release` (or the process ends)."""

    def __init__(self, where: str, file_lock: Any = None, connection: Connection | None = None,
                 engine: Engine | None = None):
        self.where = where
        self._file_lock = file_lock
        self._connection = connection
        self._engine = engine

    @classmethod
    def acquire(cls, engine: Engine, sqlite_path: Path | None) -> DatabaseLock | None:
        """Take the database's lock, or raise `StoreRefused` when another process holds it. None where the
        database has no such lock (an in-memory SQLite database is private to the process; other dialects warn)."""
        if sqlite_path is not None:
            return cls._file(sqlite_path)
        if engine.dialect.name == "postgresql":
            return cls._advisory(engine)
        if engine.dialect.name != "sqlite":
            log.warning("no lock for a %s conversation database: run one process on it, or %s",
                        engine.dialect.name, SEVERAL)
        return None

    @classmethod
    def _file(cls, path: Path) -> DatabaseLock:
        from filelock import FileLock, Timeout

        lock = FileLock(f"{path}.lock", thread_local=False)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            raise StoreRefused(f"the conversation database {path} is in use by another shopbot process; "
                               f"{SEVERAL}") from None
        return cls(str(path), file_lock=lock)

    @classmethod
    def _advisory(cls, engine: Engine) -> DatabaseLock:
        where = engine.url.render_as_string(hide_password=True)
        return cls(where, connection=_advisory_connection(engine, where), engine=engine)

    def check(self) -> None:
        """Make sure the lock is still held: the PostgreSQL connection holding it can drop (a database restart),
        and the lock with it; it is then taken again. `StateUnavailable` when the database cannot be reached,
        `StoreRefused` when another process took the database meanwhile."""
        if self._engine is None:  # a file lock (held by the OS) or released
            return
        if self._connection is not None:
            try:
                self._connection.execute(text("SELECT 1")).scalar()
                return
            except Exception:
                self._drop_connection()
        try:
            self._connection = _advisory_connection(self._engine, self.where)
        except StoreRefused:
            raise
        except Exception as exc:
            raise StateUnavailable(f"cannot reach {self.where} to hold its lock") from exc
        log.warning("took the lock on %s again after its connection dropped", self.where)

    def release(self) -> None:
        if self._file_lock is not None:
            self._file_lock.release()
            self._file_lock = None
        self._drop_connection()
        self._engine = None

    def _drop_connection(self) -> None:
        if self._connection is not None:
            try:
                self._connection.invalidate()  # closes the session (not back to the pool): the lock goes with it
                self._connection.close()
            except Exception:  # already gone: so is the lock
                pass
            self._connection = None


def _advisory_connection(engine: Engine, where: str) -> Connection:
    """A dedicated connection holding the database's advisory lock."""
    connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")  # never idle in a transaction
    try:
        held = connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_KEY}).scalar()
    except Exception:
        connection.invalidate()
        connection.close()
        raise
    if not held:
        connection.invalidate()
        connection.close()
        raise StoreRefused(f"the conversation database {where} is in use by another shopbot process; {SEVERAL}")
    return connection
