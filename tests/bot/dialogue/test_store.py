"""The conversation store on SQLite and on the machine's PostgreSQL, and the Redis conversation lock.

PostgreSQL and Redis tests skip only where none runs; `.ci/run` sets SHOPBOT_REQUIRE_SERVICES=1, which turns a
missing service into a failure.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from rasa_sdk.events import ActiveLoop, SlotSet, UserUttered

from bot.dialogue.locks import LocalLocks, RedisLocks
from bot.dialogue.store import ConversationStore
from tests.bot.dialogue.conftest import say, texts
from tests.support import POSTGRES_URL, REDIS_URL, need


def turn(text: str) -> list[dict]:
    return [UserUttered(text, timestamp=1.0), SlotSet("order_id", "10445", timestamp=1.0),
            ActiveLoop("order_form", timestamp=1.0)]


def check_store(store: ConversationStore) -> None:
    conversation = f"test:{uuid.uuid4().hex}"
    other = f"test:{uuid.uuid4().hex}"
    store.append_sync(conversation, turn("where is 10445"), "test", "a")
    store.append_sync(other, turn("someone else"), "test", "b")
    store.append_sync(conversation, [SlotSet("email", "x@example.com", timestamp=2.0)], handed_off=True)
    events = store.load_sync(conversation)
    assert [e["event"] for e in events] == ["user", "slot", "active_loop", "slot"]
    assert events[0]["text"] == "where is 10445" and events[-1]["value"] == "x@example.com"
    assert [e["text"] for e in store.load_sync(other) if e["event"] == "user"] == ["someone else"]
    assert conversation in [c["id"] for c in store.handed_off_sync()]
    assert other not in [c["id"] for c in store.handed_off_sync()]


def test_sqlite_file_store(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path / "conversations.db")
    check_store(store)
    store.close()
    assert ConversationStore(tmp_path / "conversations.db").count_sync() == 2  # still there after reopening


def test_postgres_store() -> None:
    need(5432, "PostgreSQL")
    store = ConversationStore(POSTGRES_URL)
    try:
        check_store(store)
    finally:
        store.close()


def test_engine_on_postgres_continues_after_a_restart(make_engine) -> None:
    need(5432, "PostgreSQL")
    sender = uuid.uuid4().hex
    first = make_engine(store=ConversationStore(POSTGRES_URL))
    asyncio.run(say(first, '/order_status{"order_id": "10445"}', sender=sender))
    first.store.close()
    second = make_engine(store=ConversationStore(POSTGRES_URL))
    events = asyncio.run(say(second, '/inform{"email": "avery_singh86@example.org"}', sender=sender))
    second.store.close()
    assert "Order 10445 shipped" in texts(events)


async def _serialised(locks_a, locks_b) -> list[str]:
    """Two holders of the same conversation's lock (as two processes would be) must not overlap."""
    log: list[str] = []

    async def work(locks, name: str) -> None:
        async with locks.hold("test:shared"):
            log.append(f"{name} in")
            await asyncio.sleep(0.05)
            log.append(f"{name} out")

    await asyncio.gather(work(locks_a, "a"), work(locks_b, "b"))
    return log


def test_local_locks_serialise_and_are_forgotten() -> None:
    locks = LocalLocks()
    log = asyncio.run(_serialised(locks, locks))
    assert log in (["a in", "a out", "b in", "b out"], ["b in", "b out", "a in", "a out"]) and len(locks) == 0


def test_redis_locks_serialise_across_clients() -> None:
    need(6379, "Redis")

    async def run() -> list[str]:
        a, b = RedisLocks(REDIS_URL, prefix=f"test:{uuid.uuid4().hex}:"), None
        b = RedisLocks(REDIS_URL, prefix=a.prefix)
        try:
            return await _serialised(a, b)
        finally:
            await a.close()
            await b.close()

    assert asyncio.run(run()) in (["a in", "a out", "b in", "b out"], ["b in", "b out", "a in", "a out"])
