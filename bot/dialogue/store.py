"""Conversation store: each conversation's events, appended once per turn in one transaction (SQLAlchemy).

A SQLite file by default; PostgreSQL (or any SQLAlchemy URL) when configured. Rows are only ever added, so a crash
mid-turn loses that turn at most, and a restarted server continues every conversation where it was.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from sqlalchemy import (JSON, Boolean, Column, Float, Integer, MetaData, String, Table, Text, create_engine, event,
                        func, insert, select, update)
from sqlalchemy.engine import Engine

metadata = MetaData()
conversations = Table(
    "conversations", metadata,
    Column("id", String(255), primary_key=True),
    Column("channel", String(64), nullable=False, default=""),
    Column("sender_id", String(255), nullable=False, default=""),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("handed_off", Boolean, nullable=False, default=False),
    Column("last_text", Text, nullable=True),
)
events = Table(
    "events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conversation_id", String(255), nullable=False, index=True),
    Column("type", String(32), nullable=False),
    Column("timestamp", Float, nullable=False),
    Column("data", JSON, nullable=False),
)


def database_url(value: str | Path) -> str:
    """A SQLAlchemy URL: a path becomes a SQLite file URL."""
    text = str(value)
    return text if "://" in text else f"sqlite:///{Path(text).expanduser()}"


class ConversationStore:
    """Loads and appends conversation events; blocking calls run in a worker thread."""

    def __init__(self, url: str | Path = "sqlite:///:memory:"):
        self.url = database_url(url)
        sqlite = self.url.startswith("sqlite")
        if sqlite and ":memory:" not in self.url:
            Path(self.url.split("///", 1)[1]).parent.mkdir(parents=True, exist_ok=True)
        options: dict[str, Any] = {"connect_args": {"check_same_thread": False}} if sqlite else {"pool_pre_ping": True}
        if sqlite and ":memory:" in self.url:
            from sqlalchemy.pool import StaticPool
            options["poolclass"] = StaticPool  # one shared connection, or every thread sees its own empty database
        self.engine: Engine = create_engine(self.url, **options)
        if sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
        metadata.create_all(self.engine)

    # -- blocking API -------------------------------------------------------------------------------------------

    def load_sync(self, conversation_id: str) -> list[dict[str, Any]]:
        """Every event of a conversation, oldest first."""
        with self.engine.connect() as connection:
            rows = connection.execute(select(events.c.data).where(events.c.conversation_id == conversation_id)
                                      .order_by(events.c.id))
            return [row[0] for row in rows]  # the JSON column gives dicts back

    def append_sync(self, conversation_id: str, new_events: list[dict[str, Any]], channel: str = "",
                    sender_id: str = "", handed_off: bool | None = None) -> None:
        """Add a turn's events (and create or touch the conversation row) in one transaction."""
        now = time.time()
        last_text = next((e.get("text") for e in reversed(new_events) if e["event"] == "user"), None)
        with self.engine.begin() as connection:
            values: dict[str, Any] = {"updated_at": now}
            if handed_off is not None:
                values["handed_off"] = handed_off
            if last_text is not None:
                values["last_text"] = last_text
            touched = connection.execute(update(conversations).where(conversations.c.id == conversation_id)
                                         .values(**values)).rowcount
            if not touched:
                connection.execute(insert(conversations).values(
                    id=conversation_id, channel=channel, sender_id=sender_id, created_at=now, updated_at=now,
                    handed_off=bool(handed_off), last_text=last_text))
            if new_events:
                connection.execute(insert(events), [
                    {"conversation_id": conversation_id, "type": e["event"], "timestamp": e.get("timestamp") or now,
                     "data": e} for e in new_events])

    def handed_off_sync(self) -> list[dict[str, Any]]:
        """Conversations waiting for or with a person, most recent first."""
        with self.engine.connect() as connection:
            rows = connection.execute(select(conversations).where(conversations.c.handed_off.is_(True))
                                      .order_by(conversations.c.updated_at.desc()))
            return [dict(row._mapping) for row in rows]

    def count_sync(self) -> int:
        with self.engine.connect() as connection:
            return int(connection.execute(select(func.count()).select_from(conversations)).scalar_one())

    # -- async API ----------------------------------------------------------------------------------------------

    async def load(self, conversation_id: str) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self.load_sync, conversation_id)

    async def append(self, conversation_id: str, new_events: list[dict[str, Any]], channel: str = "",
                     sender_id: str = "", handed_off: bool | None = None) -> None:
        await asyncio.to_thread(self.append_sync, conversation_id, new_events, channel, sender_id, handed_off)

    async def handed_off(self) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self.handed_off_sync)

    def close(self) -> None:
        self.engine.dispose()


def _sqlite_pragmas(connection: Any, _: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")    # readers never wait for the writer
    cursor.execute("PRAGMA synchronous=NORMAL")  # durable across a process crash; one fsync per checkpoint
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
