"""Is the conversation state reachable? What `/ready` reports: the database (a cheap query) and Redis (PING)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from bot.dialogue.errors import StateUnavailable
from bot.dialogue.locks import LocalLocks

log = logging.getLogger("shopbot.health")
CHECK_TIMEOUT_S = 5.0


async def state_health(store: Any, locks: Any) -> dict[str, str]:
    """`{"database": "ok" | "down", "redis": "ok" | "down" | "off"}`; each check is bounded by CHECK_TIMEOUT_S."""
    redis = "off" if isinstance(locks, LocalLocks) or not hasattr(locks, "ping") else await _check("redis", locks.ping)
    return {"database": await _check("database", store.ping), "redis": redis}


async def _check(name: str, ping: Any) -> str:
    try:
        await asyncio.wait_for(ping(), CHECK_TIMEOUT_S)
    except (StateUnavailable, TimeoutError) as exc:
        log.warning("%s is down: %s", name, exc)
        return "down"
    return "ok"
