"""One turn as every network channel runs it: through the engine, timed for `/metrics`."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from bot import metrics
from bot.engine import Engine
from bot.messages import Inbound, Outbound


async def run_turn(engine: Engine, inbound: Inbound) -> AsyncIterator[Outbound]:
    """The engine's events for `inbound`, with turn and first-event latency recorded per channel."""
    started = time.perf_counter()
    first = True
    metrics.TURNS.labels(inbound.channel).inc()
    async for event in engine.handle(inbound):
        if first:
            metrics.FIRST_EVENT_SECONDS.labels(inbound.channel).observe(time.perf_counter() - started)
            first = False
        if event.type == "error":
            metrics.ERRORS.labels(inbound.channel, event.code or "error").inc()
        yield event
    metrics.TURN_SECONDS.labels(inbound.channel).observe(time.perf_counter() - started)
