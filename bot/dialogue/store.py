"""Conversation store: each conversation's events, appended once per turn in one transaction (SQLAlchemy).

A SQLite file by default; PostgreSQL (or any SQLAlchemy URL) when configured. Rows are only ever added, so a crash
mid-turn loses that turn at most, and a restarted server continues every conversation where it was.

A turn loads only the conversation's current session (from its latest `session_started`, which the conversation row
points at); the tracker writes the slots a new session carries over right after that event, so the session's events
hold its whole state. `load_all` gives every event (transcripts, tests). A SQLite file is checked (`PRAGMA
quick_check`) when the store opens it, and a damaged one refuses to start; the database being unreachable, a disk
I/O error or a full disk raise `StateUnavailable` (the shopper is asked to try again), never a bare database error.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import (JSON, BigInteger, Boolean, Column, Float, Index, Integer, MetaData, String, Table, Text,
                        create_engine, event, func, insert, inspect, select, text, update)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from bot.dialogue.database_lock import DatabaseLock
from bot.dialogue.errors import StateUnavailable, StoreRefused
from bot.privacy.redaction import EventRedactor, redact_events

log = logging.getLogger("shopbot.store")
SESSION_START = "session_started"

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
    Column("session_start", BigInteger().with_variant(Integer, "sqlite"), nullable=True),  # id of the latest
)                                                                                        # session_started event
events = Table(
    "events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conversation_id", String(255), nullable=False, index=True),
    Column("type", String(32), nullable=False),
    Column("timestamp", Float, nullable=False),
    Column("data", JSON, nullable=False),
)
SESSION_INDEXES = (Index("ix_events_conversation_id_id", events.c.conversation_id, events.c.id),
                   Index("ix_events_conversation_type", events.c.conversation_id, events.c.type, events.c.id))


class SessionEvents(list):
    """A conversation's current session, oldest first; `earlier_message_ids` holds the message id asked about at
    load when a user message before the session carries it, so a platform's retry of it is still recognised."""

    def __init__(self, events: list[dict[str, Any]] = (), earlier_message_ids: frozenset[str] = frozenset()):
        super().__init__(events)
        self.earlier_message_ids = earlier_message_ids


def database_url(value: str | Path) -> str:
    """A SQLAlchemy URL: a path becomes a SQLite file URL."""
    text = str(value)
    return text if "://" in text else f"sqlite:///{Path(text).expanduser()}"


class ConversationStore:
    """Loads and appends conversation events; blocking calls run in a worker thread.

    `exclusive` takes the database's process lock (`bot.dialogue.database_lock`): what `shopbot serve` does without
    Redis, so a second process on the same database refuses to start instead of sharing it unsafely.
    """

    def __init__(self, url: str | Path = "sqlite:///:memory:", redact: EventRedactor = redact_events,
                 exclusive: bool = False):
        self.url = database_url(url)
        self.redact = redact  # every turn's events pass it before they are written (bot/privacy/redaction.py)
        sqlite = self.url.startswith("sqlite")
        self.sqlite_path: Path | None = None
        if sqlite and ":memory:" not in self.url:
            self.sqlite_path = Path(self.url.split("///", 1)[1])
            self.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        options: dict[str, Any] = ({"connect_args": {"check_same_thread": False}} if sqlite else
                                   {"pool_pre_ping": True, "connect_args": _connect_timeout(self.url)})
        if sqlite and ":memory:" in self.url:
            from sqlalchemy.pool import StaticPool
            options["poolclass"] = StaticPool  # one shared connection, or every thread sees its own empty database
        self.engine: Engine = create_engine(self.url, **options)
        if sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self.lock: DatabaseLock | None = None
        try:
            with self._reachable():
                if exclusive:
                    self.lock = DatabaseLock.acquire(self.engine, self.sqlite_path)
                if self.sqlite_path is not None:
                    check_sqlite_file(self.sqlite_path)
                metadata.create_all(self.engine)
                _migrate(self.engine)
        except BaseException:
            self.close()
            raise

    @contextmanager
    def _reachable(self) -> Iterator[None]:
        """Database errors that mean "cannot reach or write the database now" become `StateUnavailable`."""
        try:
            yield
        except (DBAPIError, PoolTimeout) as exc:
            if not _unreachable(exc):
                raise
            where = self.sqlite_path or self.engine.url.render_as_string(hide_password=True)
            raise StateUnavailable(f"conversation database {where}: {getattr(exc, 'orig', exc)}") from exc

    # -- blocking API -------------------------------------------------------------------------------------------

    def load_sync(self, conversation_id: str, message_id: str | None = None) -> SessionEvents:
        """The events of the conversation's current session (from its latest `session_started`), oldest first;
        every event for a conversation started before sessions were recorded on its row. With `message_id` (the
        incoming message's), whether an earlier session already holds it (`earlier_message_ids`)."""
        with self._reachable(), self.engine.connect() as connection:
            start = connection.execute(select(conversations.c.session_start)
                                       .where(conversations.c.id == conversation_id)).scalar()
            query = select(events.c.data).where(events.c.conversation_id == conversation_id)
            if start is not None:
                query = query.where(events.c.id >= start)
            loaded = [row[0] for row in connection.execute(query.order_by(events.c.id))]  # JSON gives dicts back
            earlier: frozenset[str] = frozenset()
            if start is not None and message_id:
                stored_id = events.c.data[("metadata", "message_id")].as_string()
                seen = connection.execute(select(events.c.id).where(
                    events.c.conversation_id == conversation_id, events.c.type == "user", events.c.id < start,
                    stored_id == message_id).limit(1)).first()
                earlier = frozenset({message_id}) if seen else frozenset()
            return SessionEvents(loaded, earlier)

    def load_all_sync(self, conversation_id: str) -> list[dict[str, Any]]:
        """Every event of a conversation, oldest first (transcripts; a turn needs only `load_sync`)."""
        with self._reachable(), self.engine.connect() as connection:
            rows = connection.execute(select(events.c.data).where(events.c.conversation_id == conversation_id)
                                      .order_by(events.c.id))
            return [row[0] for row in rows]

    def ping_sync(self) -> None:
        """A cheap query; `StateUnavailable` when the database cannot be reached (or its lock was lost)."""
        with self._reachable():
            if self.lock is not None:
                self.lock.check()
            with self.engine.connect() as connection:
                connection.execute(select(conversations.c.id).limit(1)).all()

    def append_sync(self, conversation_id: str, new_events: list[dict[str, Any]], channel: str = "",
                    sender_id: str = "", handed_off: bool | None = None) -> None:
        """Add a turn's events (and create or touch the conversation row) in one transaction."""
        new_events = self.redact(new_events)
        now = time.time()
        last_text = next((e.get("text") for e in reversed(new_events) if e["event"] == "user"), None)
        with self._reachable(), self.engine.begin() as connection:
            session_start = _insert_events(connection, conversation_id, new_events, now)
            values: dict[str, Any] = {"updated_at": now}
            if handed_off is not None:
                values["handed_off"] = handed_off
            if last_text is not None:
                values["last_text"] = last_text
            if session_start is not None:
                values["session_start"] = session_start
            touched = connection.execute(update(conversations).where(conversations.c.id == conversation_id)
                                         .values(**values)).rowcount
            if not touched:
                connection.execute(insert(conversations).values(
                    id=conversation_id, channel=channel, sender_id=sender_id, created_at=now, updated_at=now,
                    handed_off=bool(handed_off), last_text=last_text, session_start=session_start))

    def handed_off_sync(self) -> list[dict[str, Any]]:
        """Conversations waiting for or with a person, most recent first."""
        with self._reachable(), self.engine.connect() as connection:
            rows = connection.execute(select(conversations).where(conversations.c.handed_off.is_(True))
                                      .order_by(conversations.c.updated_at.desc()))
            return [dict(row._mapping) for row in rows]

    def count_sync(self) -> int:
        with self._reachable(), self.engine.connect() as connection:
            return int(connection.execute(select(func.count()).select_from(conversations)).scalar_one())

    # -- async API ----------------------------------------------------------------------------------------------

    async def load(self, conversation_id: str, message_id: str | None = None) -> SessionEvents:
        return await asyncio.to_thread(self.load_sync, conversation_id, message_id)

    async def load_all(self, conversation_id: str) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self.load_all_sync, conversation_id)

    async def ping(self) -> None:
        await asyncio.to_thread(self.ping_sync)

    async def append(self, conversation_id: str, new_events: list[dict[str, Any]], channel: str = "",
                     sender_id: str = "", handed_off: bool | None = None) -> None:
        await asyncio.to_thread(self.append_sync, conversation_id, new_events, channel, sender_id, handed_off)

    async def handed_off(self) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self.handed_off_sync)

    def close(self) -> None:
        """Release the database lock and the connections (the store cannot be used afterwards)."""
        if self.lock is not None:
            self.lock.release()
            self.lock = None
        self.engine.dispose()


def _insert_events(connection: Any, conversation_id: str, new_events: list[dict[str, Any]],
                   now: float) -> int | None:
    """Insert a turn's events in order; returns the id of the last `session_started` among them (or None)."""
    session_start = None
    batch: list[dict[str, Any]] = []
    for e in new_events:
        row = {"conversation_id": conversation_id, "type": e["event"], "timestamp": e.get("timestamp") or now,
               "data": e}
        if e["event"] != SESSION_START:
            batch.append(row)
            continue
        if batch:
            connection.execute(insert(events), batch)
            batch = []
        session_start = connection.execute(insert(events).values(**row)).inserted_primary_key[0]
    if batch:
        connection.execute(insert(events), batch)
    return session_start


def _migrate(engine: Engine) -> None:
    """Bring a database made by an earlier version up to date: the session pointer column and its indexes (a
    conversation whose pointer is empty loads in full until its next session starts)."""
    columns = {c["name"] for c in inspect(engine).get_columns("conversations")}
    if "session_start" not in columns:
        try:
            with engine.begin() as connection:
                connection.execute(text("ALTER TABLE conversations ADD COLUMN session_start BIGINT"))
        except DBAPIError:  # another process added it at the same moment
            if "session_start" not in {c["name"] for c in inspect(engine).get_columns("conversations")}:
                raise
    for index in SESSION_INDEXES:
        try:
            index.create(engine, checkfirst=True)
        except DBAPIError:  # created by another process meanwhile
            pass


def _unreachable(exc: Exception) -> bool:
    """True for errors about reaching or writing the database (connection refused or dropped, timeouts, disk I/O
    errors, a full disk, a damaged file), false for errors in what was asked (bugs)."""
    if isinstance(exc, (OperationalError, InterfaceError, PoolTimeout)):
        return True
    if isinstance(exc, DBAPIError):
        return exc.connection_invalidated or type(exc.orig) is sqlite3.DatabaseError  # "malformed", "not a database"
    return False


def _connect_timeout(url: str) -> dict[str, Any]:
    """A bounded connect for PostgreSQL, so an unreachable server is reported in seconds, not minutes."""
    return {"connect_timeout": 5} if url.startswith("postgres") else {}


def check_sqlite_file(path: Path) -> None:
    """`PRAGMA quick_check` on an existing SQLite file; `StoreRefused` naming the file when it is damaged."""
    if not path.is_file() or path.stat().st_size == 0:
        return
    try:
        connection = sqlite3.connect(path)
        try:
            rows = [row[0] for row in connection.execute("PRAGMA quick_check").fetchall()]
        finally:
            connection.close()
    except sqlite3.OperationalError as exc:  # locked or unreadable right now: the file is not known to be damaged
        raise StateUnavailable(f"conversation database {path}: {exc}") from exc
    except sqlite3.DatabaseError as exc:
        rows = [str(exc)]
    if rows != ["ok"]:
        shown = "; ".join(rows[:3]) + (f" (and {len(rows) - 3} more)" if len(rows) > 3 else "")
        raise StoreRefused(f"the conversation database {path} is damaged (SQLite quick_check: {shown}); restore it "
                           f"from a backup, or move it aside to start with no stored conversations")


def _sqlite_pragmas(connection: Any, _: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")    # readers never wait for the writer
    cursor.execute("PRAGMA synchronous=NORMAL")  # durable across a process crash; one fsync per checkpoint
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
