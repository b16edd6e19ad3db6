"""One lock per conversation, so two messages of one shopper never interleave.

In-process by default (asyncio locks, dropped when unused); in Redis when a URL is set, so several server processes
can share conversations. Redis that cannot be reached fails fast (short connect and read timeouts, one retry) with
`StateUnavailable`, and is used again as soon as it answers.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Protocol

from bot.dialogue.errors import StateUnavailable

log = logging.getLogger("shopbot.locks")
_DELETE_IF_OURS = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


class ConversationLocks(Protocol):
    def hold(self, conversation_id: str) -> AsyncIterator[None]: ...
    async def ping(self) -> None: ...
    async def close(self) -> None: ...


class LocalLocks:
    """asyncio locks keyed by conversation; a lock is forgotten when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, conversation_id: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(conversation_id, (None, 0))
        lock = lock or asyncio.Lock()
        self._locks[conversation_id] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[conversation_id]
            if users <= 1:
                del self._locks[conversation_id]
            else:
                self._locks[conversation_id] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        return None


class RedisLocks:
    """Redis locks (`redis.asyncio` `Lock`): expire after `timeout_s` if a process dies holding one.

    `wait_s` is how long a turn waits for another turn of the same conversation; Redis itself gets
    `connect_timeout_s` to accept a connection and `socket_timeout_s` to answer a command (one retry, no back-off:
    the retry is for a pooled connection Redis closed while it restarted)."""

    def __init__(self, url: str, timeout_s: float = 120.0, wait_s: float = 60.0, prefix: str = "shopbot:lock:",
                 connect_timeout_s: float = 1.0, socket_timeout_s: float = 2.0):
        import redis.asyncio as redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        self.client = redis.from_url(url, socket_connect_timeout=connect_timeout_s, socket_timeout=socket_timeout_s,
                                     retry=Retry(NoBackoff(), 1))
        self.where = _without_password(url)
        self._stale: dict[str, str] = {}   # lock name -> token of an acquire or release that may have half-happened
        self.timeout_s = timeout_s
        self.wait_s = wait_s
        self.prefix = prefix

    @asynccontextmanager
    async def hold(self, conversation_id: str) -> AsyncIterator[None]:
        from redis.exceptions import LockError

        name = self.prefix + conversation_id
        token = uuid.uuid4().hex
        lock = self.client.lock(name, timeout=self.timeout_s, blocking_timeout=self.wait_s, sleep=0.005)
        try:
            with self._reachable():
                await self._forget_stale(name)
                acquired = await lock.acquire(token=token)
        except StateUnavailable:
            # A command that timed out may still run when Redis wakes up and leave this lock set for timeout_s:
            # its token is remembered and deleted (only if it is still ours) once Redis answers again.
            self._stale[name] = token
            raise
        if not acquired:
            raise TimeoutError(f"conversation {conversation_id} stayed locked for {self.wait_s:.0f} s")
        try:
            yield
        finally:
            try:
                with self._reachable():
                    await lock.release()
            except LockError:  # held past its timeout and taken over: nothing left to release
                pass
            except StateUnavailable as exc:  # the turn is saved; the lock expires by itself after timeout_s
                self._stale[name] = token
                log.warning("could not release a conversation lock: %s", exc)

    async def _forget_stale(self, name: str | None = None) -> None:
        """Delete locks left by attempts that failed while Redis was unreachable (compare-and-delete)."""
        for key in [name] if name is not None else list(self._stale):
            token = self._stale.get(key)
            if token is not None:
                await self.client.eval(_DELETE_IF_OURS, 1, key, token)
                self._stale.pop(key, None)

    async def ping(self) -> None:
        """PING; `StateUnavailable` when Redis does not answer."""
        with self._reachable():
            await self.client.ping()
            await self._forget_stale()

    @contextmanager
    def _reachable(self) -> Iterator[None]:
        """Connection errors and timeouts of Redis become `StateUnavailable`."""
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeout

        try:
            yield
        except (RedisConnectionError, RedisTimeout, OSError) as exc:
            raise StateUnavailable(f"Redis at {self.where} cannot be reached: {exc}") from exc

    async def close(self) -> None:
        await self.client.aclose()


def _without_password(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}{f':{parts.port}' if parts.port else ''}{parts.path}"

