"""Retention: conversations idle longer than `privacy.retention_days` are deleted, and so are conversations whose
transcript the shopper has not consented to keep (`privacy.consent.transcript`) once their session has expired.

`purge` runs once (`shopbot privacy purge`); `retention_job` runs it every `privacy.purge_every_minutes` inside
`shopbot serve` (an aiohttp cleanup context). Each conversation is deleted under its lock, and only if it is still
idle then, so a turn in flight is never cut.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import select

from bot.config import PrivacySettings
from bot.dialogue.locks import ConversationLocks, LocalLocks
from bot.dialogue.store import ConversationStore, conversations, events
from bot.privacy import consent, logfile
from bot.privacy.shopper import delete_conversations

log = logging.getLogger("shopbot.privacy")
DAY = 86_400.0


def stale_ids(store: ConversationStore, settings: PrivacySettings, session_minutes: float,
              now: float) -> list[tuple[str, float]]:
    """(conversation id, the idle-since cutoff it is deleted under) for every conversation due for deletion."""
    due: dict[str, float] = {}
    with store.engine.connect() as connection:
        if settings.retention_days > 0:
            cutoff = now - settings.retention_days * DAY
            due.update((r[0], cutoff) for r in connection.execute(
                select(conversations.c.id).where(conversations.c.updated_at < cutoff)))
        if settings.mode("transcript") != "none" and session_minutes > 0:
            cutoff = now - session_minutes * 60
            idle = [r[0] for r in connection.execute(select(conversations.c.id).where(
                conversations.c.updated_at < cutoff, conversations.c.handed_off.is_(False))) if r[0] not in due]
            decided: dict[str, list[dict[str, Any]]] = {}
            for conversation_id, data in connection.execute(
                    select(events.c.conversation_id, events.c.data).where(events.c.type == consent.CONSENT)
                    .order_by(events.c.id)):
                decided.setdefault(conversation_id, []).append(data)
            due.update((i, cutoff) for i in idle if not consent.allows(settings, "transcript", decided.get(i, [])))
    return sorted(due.items())


async def purge(store: ConversationStore, settings: PrivacySettings, session_minutes: float = 0,
                locks: ConversationLocks | None = None, log_file: Path | None = None,
                now: float | None = None) -> dict[str, int]:
    """Apply retention and consent once; returns the counts deleted."""
    now = time.time() if now is None else now
    locks = locks or LocalLocks()
    counts = {"conversations": 0, "events": 0, "log_lines": 0}
    for conversation_id, cutoff in await asyncio.to_thread(stale_ids, store, settings, session_minutes, now):
        async with locks.hold(conversation_id):
            deleted = await asyncio.to_thread(delete_conversations, store, [conversation_id], cutoff)
        for key, value in deleted.items():
            counts[key] += value
    if log_file is not None and settings.retention_days > 0:
        counts["log_lines"] = await asyncio.to_thread(logfile.remove_lines, log_file,
                                                      logfile.older_than(now - settings.retention_days * DAY))
    return counts


def needed(settings: PrivacySettings) -> bool:
    """Is there anything for the periodic job to do?"""
    return settings.retention_days > 0 or any(mode != "none" for mode in settings.consent.values())


def retention_job(engine: Any, settings: PrivacySettings,
                  log_file: Path | None = None) -> Callable[[web.Application], AsyncIterator[None]]:
    """An aiohttp cleanup context that purges at start and then every `purge_every_minutes`."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(_every(engine, settings, log_file)) if needed(settings) else None
        yield
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    return context


async def _every(engine: Any, settings: PrivacySettings, log_file: Path | None) -> None:
    minutes = engine.domain.session_config.session_expiration_time
    while True:
        try:
            counts = await purge(engine.store, settings, minutes, engine.locks, log_file)
            if any(counts.values()):
                log.info("retention: deleted %d conversations (%d events), %d log lines", counts["conversations"],
                         counts["events"], counts["log_lines"])
        except Exception:  # a database hiccup must not end the job; the next round tries again
            log.exception("retention purge failed")
        await asyncio.sleep(settings.purge_every_minutes * 60)
