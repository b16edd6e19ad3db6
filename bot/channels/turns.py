"""One turn as every network channel runs it: through the engine, timed for `/metrics`, and always run to its end.

The engine's event stream is closed here whatever happens in the channel (a client gone, a failed send), so the
turn is saved and its conversation lock released at once, not whenever the garbage collector gets to it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import aclosing
from typing import Any

from bot import metrics
from bot.dialogue.errors import StateUnavailable
from bot.engine import INTERNAL, TRY_AGAIN, Engine
from bot.messages import Inbound, Outbound

log = logging.getLogger("shopbot.channels")


async def run_turn(engine: Engine, inbound: Inbound, send: Callable[[Outbound], Awaitable[None]]) -> None:
    """Hand each of the engine's events for `inbound` to `send`, recording turn and first-event latency."""
    started = time.perf_counter()
    first = True
    metrics.TURNS.labels(inbound.channel).inc()
    async with aclosing(engine.handle(inbound)) as events:
        async for event in events:
            if first:
                metrics.FIRST_EVENT_SECONDS.labels(inbound.channel).observe(time.perf_counter() - started)
                first = False
            if event.type == "error":
                metrics.ERRORS.labels(inbound.channel, event.code or "error").inc()
            await send(event)
    metrics.TURN_SECONDS.labels(inbound.channel).observe(time.perf_counter() - started)


async def run_turn_or_report(engine: Engine, inbound: Inbound, send: Callable[[Outbound], Awaitable[None]],
                             report: Callable[[str, str], Awaitable[None]]) -> None:
    """`run_turn` for a connection that goes on after a failed turn: the failure is told to the client through
    `report(code, detail)` (`unavailable` when the conversation store or lock service is down, else `internal`) and
    logged by its type only (never the conversation key)."""
    try:
        await run_turn(engine, inbound, send)
    except asyncio.CancelledError:
        raise
    except StateUnavailable as exc:
        log.warning("%s turn not run: conversation state unavailable (%s)", inbound.channel, type(exc).__name__)
        await report("unavailable", TRY_AGAIN)
    except Exception as exc:  # noqa: BLE001 - one failed turn is the shopper's error, not the connection's end
        log.error("%s turn failed: %s", inbound.channel, type(exc).__name__, exc_info=exc)
        await report("internal", INTERNAL)


class BackgroundTurns:
    """Turns a webhook answers before running (the platform wants its 200 at once); `close` waits for them."""

    def __init__(self, name: str):
        self.name = name
        self.tasks: set[asyncio.Task] = set()

    def spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s turn failed", self.name, exc_info=task.exception())

    async def close(self) -> None:
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)
