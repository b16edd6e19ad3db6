"""Helpers for the dialogue and channel tests (the fixtures are in tests/bot/conftest.py)."""

from __future__ import annotations

from pathlib import Path

from bot.engine import Engine


async def say(engine: Engine, text: str, sender: str = "shopper", **options):
    """All outbound events of one message."""
    from bot.messages import Inbound

    return [event async for event in engine.handle(Inbound(sender, text, "test", **options))]


def texts(events) -> str:
    return " ".join(e.text for e in events if e.type in ("message", "handoff"))


def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'conversations.db'}"
