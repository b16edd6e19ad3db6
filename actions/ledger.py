"""A ledger of failed identity checks, kept outside every conversation (a restart, a new session or another channel
sees the same strikes).

A check first *reserves* a strike on each of its keys, atomically and only while every key is under its limit; a
successful check then releases its own reservation (nobody else's). So even concurrent guesses from several
processes never pass a limit. `SqliteLedger` is a SQLite file in WAL mode, shared safely by several processes on one
machine; `RedisLedger` is for several machines. Keys are opaque strings (the caller hashes anything personal); the
ledger's `secret()` is the key for those hashes, the same for every process sharing the ledger.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from actions.sqlite_transactions import immediate_transaction

@dataclass(frozen=True)
class Limit:
    """At most `count` failures within the last `window_s` seconds."""

    count: int
    window_s: float


class StrikeLedger(Protocol):
    """Where failed checks are counted."""

    def reserve(self, keys: Mapping[str, Limit]) -> str | None:
        """Add a strike to every key and return a token, or None (adding nothing) when a key is at its limit."""
    def release(self, token: str, keys: Iterable[str]) -> None:
        """Take back the strikes a reservation added (the check succeeded)."""
    def counts(self, keys: Mapping[str, Limit]) -> dict[str, int]:
        """Each key's strikes inside its window."""
    def secret(self) -> bytes:
        """The key for hashing what goes into ledger keys."""


def locked(ledger: StrikeLedger, keys: Mapping[str, Limit]) -> bool:
    """True when any key has used up its limit."""
    counts = ledger.counts(keys)
    return any(counts[key] >= limit.count for key, limit in keys.items())


class SqliteLedger:
    """Strikes in a SQLite file (WAL, busy timeout: several processes may share it); `:memory:` for one process."""

    def __init__(self, path: str | Path = ":memory:", clock: Callable[[], float] = time.time,
                 retention_s: float = 7 * 86400, secret: str = ""):
        """Strikes older than `retention_s` (longer than any window) are dropped as new ones come in; `secret`
        (`guard.secret`, shared by every process) hashes ledger keys, else a key kept in the file."""
        self.path = str(path)
        self._own_secret = secret.encode("utf-8")
        self.clock = clock
        self.retention_s = retention_s
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA busy_timeout = 30000")
        if self.path != ":memory:":
            self._db.execute("PRAGMA journal_mode = WAL")
        with self._transaction() as db:
            db.execute("CREATE TABLE IF NOT EXISTS strikes (key TEXT NOT NULL, at REAL NOT NULL, token TEXT NOT NULL)")
            db.execute("CREATE INDEX IF NOT EXISTS strikes_by_key ON strikes (key, at)")
            db.execute("CREATE INDEX IF NOT EXISTS strikes_by_token ON strikes (token)")
            db.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB NOT NULL)")
            db.execute("INSERT OR IGNORE INTO meta (name, value) VALUES ('secret', ?)", (secrets.token_bytes(32),))
            self._stored_secret = bytes(db.execute("SELECT value FROM meta WHERE name = 'secret'").fetchone()[0])

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return immediate_transaction(self._db, self._lock)

    def reserve(self, keys: Mapping[str, Limit]) -> str | None:
        now, token = self.clock(), secrets.token_hex(8)
        with self._transaction() as db:
            for key, limit in keys.items():
                db.execute("DELETE FROM strikes WHERE key = ? AND at <= ?", (key, now - limit.window_s))
                if self._count(db, key, now - limit.window_s) >= limit.count:
                    return None
            db.executemany("INSERT INTO strikes (key, at, token) VALUES (?, ?, ?)",
                           [(key, now, token) for key in keys])
            db.execute("DELETE FROM strikes WHERE at <= ?", (now - self.retention_s,))
        return token

    def release(self, token: str, keys: Iterable[str]) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM strikes WHERE token = ?", (token,))

    def counts(self, keys: Mapping[str, Limit]) -> dict[str, int]:
        now = self.clock()
        with self._lock:
            return {key: self._count(self._db, key, now - limit.window_s) for key, limit in keys.items()}

    def secret(self) -> bytes:
        return self._own_secret or self._stored_secret

    @staticmethod
    def _count(db: sqlite3.Connection, key: str, since: float) -> int:
        return int(db.execute("SELECT COUNT(*) FROM strikes WHERE key = ? AND at > ?", (key, since)).fetchone()[0])

    def close(self) -> None:
        self._db.close()


# KEYS: the ledger keys; ARGV: now, token, then a (limit, window) pair per key. Returns 1 when reserved, 0 when locked.
_RESERVE = """
local now = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  local window = tonumber(ARGV[2 + 2 * i])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  if redis.call('ZCARD', key) >= tonumber(ARGV[1 + 2 * i]) then return 0 end
end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, ARGV[2])
  redis.call('EXPIRE', key, math.ceil(tonumber(ARGV[2 + 2 * i])) + 1)
end
return 1
"""


class RedisLedger:
    """Strikes in Redis sorted sets (one per key, scored by time), reserved by one Lua script: shared by every
    process and machine on the same Redis."""

    def __init__(self, url: str, prefix: str = "shopbot:guard:", clock: Callable[[], float] = time.time,
                 client: Any = None, secret: str = ""):
        """`secret` (`guard.secret`) hashes ledger keys, else a key kept in Redis and shared by every process."""
        import redis

        self.prefix = prefix
        self.clock = clock
        self._redis = client or redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self._reserve = self._redis.register_script(_RESERVE)
        self._secret: bytes | None = secret.encode("utf-8") or None

    def reserve(self, keys: Mapping[str, Limit]) -> str | None:
        token = secrets.token_hex(8)
        args: list[Any] = [self.clock(), token]
        for limit in keys.values():
            args += [limit.count, limit.window_s]
        done = self._reserve(keys=[self.prefix + key for key in keys], args=args)
        return token if int(done) == 1 else None

    def release(self, token: str, keys: Iterable[str]) -> None:
        with self._redis.pipeline() as pipe:
            for key in keys:
                pipe.zrem(self.prefix + key, token)
            pipe.execute()

    def counts(self, keys: Mapping[str, Limit]) -> dict[str, int]:
        now = self.clock()
        with self._redis.pipeline(transaction=False) as pipe:
            for key, limit in keys.items():
                pipe.zcount(self.prefix + key, f"({now - limit.window_s}", "+inf")
            return {key: int(n) for key, n in zip(keys, pipe.execute())}

    def secret(self) -> bytes:
        if self._secret is None:
            name = self.prefix + "secret"
            self._redis.set(name, secrets.token_bytes(32), nx=True)
            self._secret = bytes(self._redis.get(name))
        return self._secret

    def close(self) -> None:
        self._redis.close()
