"""Helpers for the privacy tests: conversations written by the real demo engine, and the database read back raw."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

from sqlalchemy import select

from bot.dialogue.store import ConversationStore, conversations, events
from bot.messages import Inbound


async def say(engine, text: str, sender: str, channel: str) -> str:
    """One shopper message through the engine on a channel; the bot's reply text."""
    replies = [e async for e in engine.handle(Inbound(sender, text, channel))]
    return " ".join(e.text for e in replies if e.type in ("message", "handoff"))


def stored_text(store: ConversationStore) -> str:
    """Every stored event and conversation row, as one NFKC case-folded string."""
    with store.engine.connect() as connection:
        rows = [json.dumps(r[0], ensure_ascii=False) for r in connection.execute(select(events.c.data))]
        rows += [json.dumps(dict(r._mapping), ensure_ascii=False) for r in connection.execute(select(conversations))]
    return unicodedata.normalize("NFKC", "\n".join(rows)).casefold()


def sqlite_bytes(path: Path) -> bytes:
    """The database file and its write-ahead log, as they are on disk."""
    return b"".join(p.read_bytes() for p in (path, path.with_name(path.name + "-wal")) if p.is_file())
