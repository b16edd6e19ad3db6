"""One lock per conversation, so two messages of one shopper never interleave.

In-process by default (asyncio locks, dropped when unused); in Redis when a URL is set, so several server processes
can share conversations.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol


class ConversationLocks(Protocol):
    def hold(self, conversation_id: str) -> AsyncIterator[None]: ...
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

    async def close(self) -> None:
        return None


class RedisLocks:
    """Redis locks (`redis.asyncio` `Lock`): expire after `timeout_s` if a process dies holding one."""

    def __init__(self, url: str, timeout_s: float = 120.0, wait_s: float = 60.0, prefix: str = "shopbot:lock:"):
        import redis.asyncio as redis

        self.client = redis.from_url(url)
        self.timeout_s = timeout_s
        self.wait_s = wait_s
        self.prefix = prefix

    @asynccontextmanager
    async def hold(self, conversation_id: str) -> AsyncIterator[None]:
        from redis.exceptions import LockError

        lock = self.client.lock(self.prefix + conversation_id, timeout=self.timeout_s, blocking_timeout=self.wait_s,
                                sleep=0.005)
        if not await lock.acquire():
            raise TimeoutError(f"conversation {conversation_id} stayed locked for {self.wait_s:.0f} s")
        try:
            yield
        finally:
            try:
                await lock.release()
            except LockError:  # held past its timeout and taken over: nothing left to release
                pass

    async def close(self) -> None:
        await self.client.aclose()
