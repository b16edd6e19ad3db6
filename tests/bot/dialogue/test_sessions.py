"""A turn loads only the conversation's current session: the store reads from the latest `session_started` (the
conversation row points at it), the slots a session carries over are written right after that event, and the
readers of the whole history (`Engine.tracker`: transcripts, resume, the stories' leak check) still get all of it."""

from __future__ import annotations

import asyncio
import sqlite3
import time
import uuid
from pathlib import Path

from rasa_sdk.events import ActionExecuted, SessionStarted, SlotSet, UserUttered

from bot.dialogue.store import ConversationStore
from bot.dialogue.tracker import DialogueTracker
from tests.bot.dialogue.conftest import say, texts
from tests.support import POSTGRES_URL, need


def _user(text: str, message_id: str) -> dict:
    return {**UserUttered(text, timestamp=1.0), "metadata": {"message_id": message_id}}


def check_session_window(store: ConversationStore) -> None:
    conversation = f"test:{uuid.uuid4().hex}"
    first = [ActionExecuted("action_session_start", timestamp=1.0), SessionStarted(timestamp=1.0),
             _user("first", "m1"), SlotSet("email", "a@example.com", timestamp=1.0)]
    second = [ActionExecuted("action_session_start", timestamp=9.0), SessionStarted(timestamp=9.0),
              SlotSet("email", "a@example.com", timestamp=9.0), _user("second", "m2")]
    store.append_sync(conversation, first, "test")
    store.append_sync(conversation, [_user("again", "m1b")])
    store.append_sync(conversation, second)
    window = store.load_sync(conversation)
    assert [e["event"] for e in window] == ["session_started", "slot", "user"] and window[-1]["text"] == "second"
    assert not window.earlier_message_ids   # asked about no message
    for message_id, earlier in (("m1", {"m1"}), ("m1b", {"m1b"}), ("m2", set()), ("never", set())):
        assert store.load_sync(conversation, message_id).earlier_message_ids == earlier, message_id
    assert len(store.load_all_sync(conversation)) == len(first) + 1 + len(second)


def test_sqlite_loads_the_current_session_only(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path / "conversations.db")
    check_session_window(store)
    store.close()


def test_postgres_loads_the_current_session_only() -> None:
    need(5432, "PostgreSQL")
    store = ConversationStore(POSTGRES_URL)
    try:
        check_session_window(store)
    finally:
        store.close()


def test_a_database_from_before_session_pointers_is_upgraded(tmp_path: Path) -> None:
    """A conversation stored before the pointer existed loads in full, until its next session starts."""
    path = tmp_path / "conversations.db"
    store = ConversationStore(path)
    store.append_sync("test:old", [SessionStarted(timestamp=1.0), _user("old", "m0"), SessionStarted(timestamp=2.0),
                                   _user("newer", "m1")], "test")
    store.close()
    with sqlite3.connect(path) as db:  # what an earlier version's database looks like
        db.execute("DROP INDEX ix_events_conversation_id_id")
        db.execute("DROP INDEX ix_events_conversation_type")
        db.execute("ALTER TABLE conversations DROP COLUMN session_start")
    store = ConversationStore(path)
    assert [e.get("text") for e in store.load_sync("test:old")] == [None, "old", None, "newer"]
    store.append_sync("test:old", [SessionStarted(timestamp=3.0), _user("latest", "m2")])
    assert [e.get("text") for e in store.load_sync("test:old")] == [None, "latest"]
    store.close()


def test_carried_slots_survive_when_only_the_session_is_loaded(make_engine, tmp_path: Path) -> None:
    """A shopper verified in one session comes back two hours later: the new session starts with the carried
    email (written after `session_started`), a retry of an earlier session's message is still answered once, and
    `Engine.tracker` still sees every session."""
    store = ConversationStore(tmp_path / "conversations.db")
    engine = make_engine(store=store)
    sender = uuid.uuid4().hex
    later = time.time() + 2 * 3600

    async def chat():
        await say(engine, '/order_status{"order_id": "10445"}', sender=sender, message_id="a1")
        await say(engine, '/inform{"email": "avery_singh86@example.org"}', sender=sender, message_id="a2")
        back = await say(engine, "/greet", sender=sender, message_id="b1", timestamp=later)
        retry = await say(engine, '/inform{"email": "avery_singh86@example.org"}', sender=sender, message_id="a2",
                          timestamp=later + 1)
        return back, retry, await engine.tracker(f"test:{sender}")

    back, retry, whole = asyncio.run(chat())
    window = store.load_sync(f"test:{sender}")
    assert window[0]["event"] == "session_started"
    assert not any(e["event"] == "user" and e["text"].startswith("/order_status") for e in window)
    assert {"event": "slot", "name": "email"}.items() <= window[1].items()
    folded = DialogueTracker(f"test:{sender}", engine.domain, window)
    assert folded.slots["email"] == whole.slots["email"] == "avery_singh86@example.org"
    assert folded.slots == whole.slots
    assert texts(back) and retry == []
    assert sum(e["event"] == "session_started" for e in whole.events) == 2
    store.close()


def test_a_handed_off_chat_stays_with_the_person_in_a_new_session(make_engine, tmp_path: Path) -> None:
    store = ConversationStore(tmp_path / "conversations.db")
    engine = make_engine(store=store)
    sender = uuid.uuid4().hex

    async def chat():
        await say(engine, "/human_handoff", sender=sender)
        return await say(engine, "hello?", sender=sender, timestamp=time.time() + 2 * 3600)

    later = asyncio.run(chat())
    folded = DialogueTracker(f"test:{sender}", engine.domain, store.load_sync(f"test:{sender}"))
    assert folded.paused and any(e.type == "handoff" for e in later)
    store.close()
