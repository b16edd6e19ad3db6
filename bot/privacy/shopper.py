"""Everything the store keeps that names one shopper, found by email: exported as JSON, or erased.

A conversation names the shopper when an `email` slot holds their email, or a user or bot message contains it
(compared after Unicode NFKC normalisation and case folding, so full-width and upper-case forms count). Every other
conversation of the same sender on the same channel comes with it. Then: their events, the log-file lines naming
those conversations or the email, and any other records a deployment registers (`ShopperRecords`, e.g. the
verification ledger).
"""

from __future__ import annotations

import asyncio
import re
import time
import unicodedata
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import delete, select, tuple_

from bot.dialogue.store import ConversationStore, conversations, events
from bot.privacy import consent, logfile

SCANNED = ("user", "bot", "slot")
BATCH = 500


class ShopperRecords(Protocol):
    """Other records keyed by a shopper's email (e.g. verification strikes): exported and erased with the rest."""

    name: str

    def export(self, email: str) -> list[dict[str, Any]]: ...
    def erase(self, email: str) -> int: ...


def normalize(text: str) -> str:
    """The form emails are compared in: NFKC, case-folded."""
    return unicodedata.normalize("NFKC", text).casefold()


def email_pattern(email: str) -> re.Pattern[str]:
    """Matches the (normalised) email as a whole address, not inside a longer one."""
    wanted = normalize(email.strip())
    if not re.fullmatch(r"[^@\s]+@[^@\s]+", wanted):
        raise ValueError(f"not an email address: {email!r}")
    return re.compile(r"(?<![\w.%+-])" + re.escape(wanted) + r"(?![\w-]|\.\w)")


def names_email(event: dict[str, Any], pattern: re.Pattern[str]) -> bool:
    """Does this event hold the email (an `email` slot, or the text of a message)?"""
    kind = event.get("event")
    if kind == "slot":
        value = event.get("value")
        return event.get("name") == "email" and isinstance(value, str) and bool(pattern.search(normalize(value)))
    if kind in ("user", "bot"):
        texts = [event.get("text"), (event.get("parse_data") or {}).get("text")]
        return any(isinstance(t, str) and pattern.search(normalize(t)) for t in texts)
    return False


@dataclass
class ShopperData:
    """What was found for one email."""

    email: str
    conversations: list[dict[str, Any]] = field(default_factory=list)   # rows, each with its `events`
    log_lines: list[str] = field(default_factory=list)
    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def conversation_ids(self) -> list[str]:
        return [c["id"] for c in self.conversations]

    def counts(self) -> dict[str, int]:
        return {"conversations": len(self.conversations),
                "events": sum(len(c["events"]) for c in self.conversations),
                "log_lines": len(self.log_lines), **{name: len(rows) for name, rows in self.records.items()}}

    def to_json(self) -> dict[str, Any]:
        """The export: each conversation with its events, the order ids verified in it and its consent choices."""
        exported = []
        for row in self.conversations:
            verified = [e["value"] for e in row["events"] if e.get("event") == "slot"
                        and e.get("name") == "verified_order" and e.get("value")]
            exported.append({**{k: v for k, v in row.items() if k != "events"},
                             "created_at": _iso(row["created_at"]), "updated_at": _iso(row["updated_at"]),
                             "verified_orders": sorted(set(map(str, verified))),
                             "consent": consent.choices(row["events"]), "events": row["events"]})
        return {"email": self.email, "exported_at": _iso(time.time()), "counts": self.counts(),
                "conversations": exported, "log_lines": self.log_lines, "records": self.records}


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def find_conversation_ids(store: ConversationStore, email: str) -> list[str]:
    """Every conversation naming the email, and every other conversation of those senders on those channels."""
    pattern = email_pattern(email)
    named: set[str] = set()
    with store.engine.connect() as connection:
        rows = connection.execution_options(yield_per=BATCH).execute(
            select(events.c.conversation_id, events.c.data).where(events.c.type.in_(SCANNED)))
        for conversation_id, data in rows:
            if conversation_id not in named and names_email(data, pattern):
                named.add(conversation_id)
        found = set(named)
        for chunk in _chunks(sorted(named)):
            senders = {(c, s) for c, s in connection.execute(
                select(conversations.c.channel, conversations.c.sender_id)
                .where(conversations.c.id.in_(chunk))) if s}
            for pairs in _chunks(sorted(senders)):
                found.update(r[0] for r in connection.execute(
                    select(conversations.c.id).where(tuple_(conversations.c.channel, conversations.c.sender_id)
                                                     .in_(pairs))))
    return sorted(found)


def collect(store: ConversationStore, email: str, log_file: Path | None = None,
            records: Sequence[ShopperRecords] = ()) -> ShopperData:
    """Everything kept about the shopper with this email."""
    ids = find_conversation_ids(store, email)
    data = ShopperData(email.strip())
    with store.engine.connect() as connection:
        for chunk in _chunks(ids):
            rows = {r.id: dict(r._mapping) for r in connection.execute(
                select(conversations).where(conversations.c.id.in_(chunk)))}
            for row in rows.values():
                row["events"] = []
            for conversation_id, event in connection.execute(
                    select(events.c.conversation_id, events.c.data).where(events.c.conversation_id.in_(chunk))
                    .order_by(events.c.id)):
                rows[conversation_id]["events"].append(event)
            data.conversations.extend(rows[i] for i in chunk if i in rows)
    if log_file is not None:
        data.log_lines = logfile.matching_lines(log_file, _log_matcher(data, email))
    data.records = {r.name: r.export(email) for r in records}
    return data


def _log_matcher(data: ShopperData, email: str) -> logfile.LineMatcher:
    return logfile.LineMatcher(conversation_ids=data.conversation_ids,
                               sender_ids=[c["sender_id"] for c in data.conversations], email=email_pattern(email))


def delete_conversations(store: ConversationStore, ids: Sequence[str],
                         older_than: float | None = None) -> dict[str, int]:
    """Delete these conversations' events and rows in one transaction (with `older_than`, only those whose last
    activity is still before it); SQLite overwrites the freed pages and truncates its write-ahead log."""
    counts = {"conversations": 0, "events": 0}
    sqlite = store.url.startswith("sqlite")
    with store.engine.begin() as connection:
        if sqlite:
            connection.exec_driver_sql("PRAGMA secure_delete=ON")   # deleted text does not linger in free pages
        for chunk in _chunks(list(ids)):
            chosen = conversations.c.id.in_(chunk)
            if older_than is not None:
                chunk = [r[0] for r in connection.execute(select(conversations.c.id).where(
                    chosen, conversations.c.updated_at < older_than))]
                chosen = conversations.c.id.in_(chunk)
            counts["events"] += connection.execute(delete(events).where(events.c.conversation_id.in_(chunk))).rowcount
            counts["conversations"] += connection.execute(delete(conversations).where(chosen)).rowcount
    if sqlite and ":memory:" not in store.url and counts["events"]:
        with store.engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    return counts


async def export_shopper(store: ConversationStore, email: str, log_file: Path | None = None,
                         records: Sequence[ShopperRecords] = ()) -> ShopperData:
    return await asyncio.to_thread(collect, store, email, log_file, records)


async def erase_shopper(store: ConversationStore, email: str, locks: Any = None, log_file: Path | None = None,
                        records: Sequence[ShopperRecords] = ()) -> dict[str, int]:
    """Erase everything naming the shopper; each conversation is locked first, so a turn in flight is finished
    (and then erased) rather than written back after. Returns what was erased, by kind."""
    ids = await asyncio.to_thread(find_conversation_ids, store, email)
    async with AsyncExitStack() as held:
        if locks is not None:
            for conversation_id in ids:
                await held.enter_async_context(locks.hold(conversation_id))
        data = await asyncio.to_thread(collect, store, email, None, ())
        counts = await asyncio.to_thread(delete_conversations, store, data.conversation_ids)
    if log_file is not None:
        counts["log_lines"] = await asyncio.to_thread(logfile.remove_lines, log_file, _log_matcher(data, email))
    for extra in records:
        counts[extra.name] = await asyncio.to_thread(extra.erase, email)
    return counts


def _chunks(items: Sequence[Any], size: int = BATCH) -> list[list[Any]]:
    return [list(items[i:i + size]) for i in range(0, len(items), size)]
