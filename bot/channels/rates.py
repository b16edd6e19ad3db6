"""Message rates per sender and per address, through the `limits` library (a moving window of one minute).

In process memory by default; in Redis when `dialogue.redis_url` is set, so every replica counts the same
messages. Should Redis fail, the process falls back to its own memory counts (still limited, per process) and
logs it, rather than refusing every shopper or letting every message through.
"""

from __future__ import annotations

import logging

from limits import RateLimitItem, RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage, RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError

log = logging.getLogger("shopbot.rates")


def limits_redis_uri(redis_url: str) -> str:
    """`redis://...` as `limits`' async storage scheme (`async+redis://...`)."""
    for plain, scheme in (("redis+unix://", "async+redis+unix://"), ("unix://", "async+redis+unix://"),
                          ("rediss://", "async+rediss://"), ("redis://", "async+redis://")):
        if redis_url.startswith(plain):
            return scheme + redis_url[len(plain):]
    raise ValueError(f"not a Redis URL: {redis_url!r} (redis://, rediss:// or unix://)")


class RateLimits:
    """`allow(sender, address)`: the sender's and then the address's window each have room (a hit on both)."""

    def __init__(self, per_sender: int, per_address: int, redis_url: str = "", prefix: str = "shopbot:rate"):
        self.per_sender: RateLimitItem = RateLimitItemPerMinute(per_sender, namespace="sender")
        self.per_address: RateLimitItem = RateLimitItemPerMinute(per_address, namespace="address")
        self.local = MovingWindowRateLimiter(MemoryStorage())
        self._pool = None
        self.shared: MovingWindowRateLimiter | None = None
        if redis_url:
            import redis.asyncio as redis

            # our own pool, so `close` can release it and a dead Redis costs at most a second per message
            self._pool = redis.ConnectionPool.from_url(redis_url, socket_timeout=1.0, socket_connect_timeout=1.0)
            storage = RedisStorage(limits_redis_uri(redis_url), implementation="redispy", key_prefix=prefix,
                                   wrap_exceptions=True, connection_pool=self._pool)
            self.shared = MovingWindowRateLimiter(storage)
        self._degraded = False

    @property
    def backend(self) -> str:
        return "redis" if self.shared is not None else "memory"

    async def allow(self, sender: str, address: str) -> bool:
        """True when one more message from `sender` at `address` is within both limits (and counts it)."""
        limiter = self.local
        if self.shared is not None:
            try:
                allowed = await self._hit(self.shared, sender, address)
            except StorageError as exc:
                if not self._degraded:
                    log.warning("rate limits fall back to this process's memory: Redis failed (%s)",
                                type(exc.storage_error).__name__)
                self._degraded = True
            else:
                if self._degraded:
                    log.info("rate limits are shared through Redis again")
                self._degraded = False
                return allowed
        return await self._hit(limiter, sender, address)

    async def _hit(self, limiter: MovingWindowRateLimiter, sender: str, address: str) -> bool:
        return await limiter.hit(self.per_sender, sender) and await limiter.hit(self.per_address, address)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.disconnect()
