"""The engine end to end with the real demo actions, store and retrieval; intents come from button payloads here
(the NLU-driven conversations are the story suite's)."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

from bot.dialogue.executor import RemoteExecutor
from bot.dialogue.store import ConversationStore
from bot.messages import Inbound
from tests.bot.dialogue.conftest import say, sqlite_url, texts

EMAIL = '/inform{"email": "avery_singh86@example.org"}'


def test_order_status_needs_the_matching_email_and_never_shows_it_before(make_engine) -> None:
    engine = make_engine()

    async def chat():
        asked = await say(engine, '/order_status{"order_id": "10445"}')
        wrong = await say(engine, '/inform{"email": "cramirez@example.com"}')
        again = await say(engine, '/inform{"order_id": "10445"}')
        right = await say(engine, EMAIL)
        return asked, wrong, again, right

    asked, wrong, again, right = asyncio.run(chat())
    assert "email" in texts(asked)
    assert "don't match" in texts(wrong) and "9126145823" not in texts(wrong)
    assert "email" in texts(again)
    assert "Order 10445 shipped" in texts(right) and right[-1].data["order"]["id"] == "10445"


def test_a_restarted_engine_continues_the_conversation(make_engine, tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    first = make_engine(store=ConversationStore(url))
    asyncio.run(say(first, '/cancel_order{"order_id": "10453"}'))
    first.store.close()
    second = make_engine(store=ConversationStore(url))  # a new process would see the same file
    tracker = asyncio.run(second.tracker("test:shopper"))
    assert tracker.active_loop == "order_form" and tracker.slots["requested_slot"] == "email"
    events = asyncio.run(say(second, '/inform{"email": "ifischer@example.com"}'))
    assert "Cancel order 10453" in texts(events)
    assert "is cancelled" in texts(asyncio.run(say(second, "/affirm")))


def test_two_messages_of_one_shopper_never_interleave(make_engine) -> None:
    engine = make_engine()

    async def both():
        await asyncio.gather(say(engine, '/order_status{"order_id": "10445"}'), say(engine, EMAIL))
        return await engine.tracker("test:shopper")

    events = asyncio.run(both()).events
    kinds = [(e["event"], e.get("name")) for e in events if e["event"] in ("user", "action")]
    users = [i for i, k in enumerate(kinds) if k[0] == "user"]
    listens = [i for i, k in enumerate(kinds) if k == ("action", "action_listen")]
    # each user event is followed by its own turn, which ends with action_listen before the next user event
    assert len(users) == 2 and listens[-1] == len(kinds) - 1 and any(users[0] < i < users[1] for i in listens)


def test_handoff_pauses_the_bot_until_the_agent_gives_it_back(make_engine) -> None:
    engine = make_engine()
    heard: list[str] = []
    engine.listeners.append(lambda conversation, event: heard.append(f"{conversation}: {event.text}"))

    async def chat():
        handoff = await say(engine, "/human_handoff")
        waiting = await say(engine, "is anyone there?")
        listed = await engine.store.handed_off()
        reply = await engine.agent_message("test:shopper", "Hi, Sam here.", agent="sam")
        back = await engine.resume("test:shopper")
        answered = await say(engine, "do you ship to Canada?")
        return handoff, waiting, listed, reply, back, answered, await engine.store.handed_off()

    handoff, waiting, listed, reply, back, answered, after = asyncio.run(chat())
    assert any(e.type == "handoff" for e in handoff) and [e.type for e in waiting] == ["handoff"]
    assert heard == ["test:shopper: is anyone there?"] and [c["id"] for c in listed] == ["test:shopper"]
    assert reply.data == {"agent": "sam"} and "back with the assistant" in back.text
    assert "Canada" in texts(answered) and after == []


def test_a_down_action_server_gets_an_apology_and_a_person_offered(make_engine) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    engine = make_engine(executor=RemoteExecutor(f"http://127.0.0.1:{port}", timeout_s=1, attempts=2,
                                                 backoff_s=0.01))

    async def chat():
        try:
            return await say(engine, '/order_status{"order_id": "10445"}')
        finally:
            await engine.close()

    events = asyncio.run(chat())
    assert "can't reach our order system" in texts(events)
    assert events[-1].buttons[0]["payload"] == "/human_handoff"
    assert asyncio.run(engine.tracker("test:shopper")).active_loop is None


def test_questions_and_products_without_an_nlu_model(make_engine) -> None:
    engine = make_engine()
    answer = asyncio.run(say(engine, "do you ship to Canada?"))
    assert [e.type for e in answer][:2] == ["typing", "chunk"] and answer[-1].sources
    products = asyncio.run(say(engine, "show me waterproof jackets", sender="s2"))
    assert any(e.cards for e in products)


def test_the_prompt_history_is_the_chat_before_the_question_it_asks(make_engine) -> None:
    engine = make_engine()

    async def chat():
        await say(engine, "do you ship to Canada?")
        await say(engine, "how long do refunds take?")
        return await engine.tracker("test:shopper")

    tracker = asyncio.run(chat())
    everything = tracker.history()
    assert [role for role, _ in everything] == ["user", "assistant", "user", "assistant"]
    assert tracker.history(before_latest=True) == everything[:2]  # the question is asked once, not twice
    assert tracker.history(0) == [] and tracker.history(10) == everything


def test_session_expiry_starts_a_new_session_and_carries_only_the_configured_slots(make_engine) -> None:
    engine = make_engine()

    async def chat():
        await say(engine, '/order_status{"order_id": "10445"}', timestamp=1_000_000.0)
        await say(engine, EMAIL, timestamp=1_000_060.0)
        await say(engine, "/greet", timestamp=1_000_060.0 + 61 * 60)
        return await engine.tracker("test:shopper")

    tracker = asyncio.run(chat())
    assert sum(e["event"] == "session_started" for e in tracker.events) == 2
    assert tracker.slots["email"] == "avery_singh86@example.org"
    assert tracker.slots["order_id"] is None and tracker.slots["verified_order"] is None


def test_one_shoppers_verification_never_opens_an_order_to_another(make_engine) -> None:
    engine = make_engine()

    async def chat():
        await say(engine, '/order_status{"order_id": "10445"}', sender="owner")
        await say(engine, EMAIL, sender="owner")
        stranger = await say(engine, '/order_status{"order_id": "10445"}', sender="stranger")
        same_id_other_channel = [e async for e in engine.handle(Inbound("owner", "/track_shipment", "telegram"))]
        return stranger, same_id_other_channel

    stranger, other_channel = asyncio.run(chat())
    assert "email" in texts(stranger) and "9126145823" not in texts(stranger)
    assert "9126145823" not in texts(other_channel) and "order number" in texts(other_channel)


def test_a_retried_message_id_gets_no_second_reply(make_engine) -> None:
    engine = make_engine()

    async def chat():
        first = [e async for e in engine.handle(Inbound("s", "/greet", "telegram", message_id="m-1"))]
        again = [e async for e in engine.handle(Inbound("s", "/greet", "telegram", message_id="m-1"))]
        return first, again, await engine.tracker("telegram:s")

    first, again, tracker = asyncio.run(chat())
    assert first and again == [] and sum(e["event"] == "user" for e in tracker.events) == 1


def committed(path: Path, conversation_id: str) -> list[dict]:
    """The events of a conversation as they are in the SQLite file now (read on a connection of its own)."""
    import json
    import sqlite3

    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT data FROM events WHERE conversation_id = ? ORDER BY id", (conversation_id,))
        return [json.loads(row[0]) for row in rows]


def test_a_reply_is_sent_only_once_its_turn_is_committed(make_engine, tmp_path: Path) -> None:
    """Finding 9: the final frame went out before the turn was in the database, so a crash lost turns the shopper
    had seen. Chunks stream at once; each reply is already in the file when the channel gets it."""
    engine = make_engine(store=ConversationStore(sqlite_url(tmp_path)))
    db = tmp_path / "conversations.db"

    async def chat():
        seen = []
        for text in ("do you ship to Canada?", '/order_status{"order_id": "10445"}'):
            async for event in engine.handle(Inbound("shopper", text, "test")):
                saved = [e.get("text") for e in committed(db, "test:shopper") if e["event"] == "bot"]
                seen.append((event.type, event.text in saved))
        return seen

    seen = asyncio.run(chat())
    messages = [in_db for kind, in_db in seen if kind == "message"]
    assert len(messages) == 2 and all(messages)
    assert any(kind == "chunk" for kind, _ in seen)  # streamed text is not held back


def test_a_commit_that_fails_gives_one_unavailable_error_instead_of_the_reply(make_engine, tmp_path: Path) -> None:
    import sqlite3

    engine = make_engine(store=ConversationStore(sqlite_url(tmp_path)))
    asyncio.run(say(engine, "/greet"))
    writer = sqlite3.connect(tmp_path / "conversations.db", isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # another writer holds the database past the store's busy timeout
    try:
        events = asyncio.run(say(engine, '/order_status{"order_id": "10445"}'))
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert [(e.type, e.code) for e in events] == [("error", "unavailable")]
    again = asyncio.run(say(engine, '/order_status{"order_id": "10445"}'))  # recovered: the turn runs
    assert "email" in texts(again)


def test_unreachable_state_is_one_unavailable_error_without_a_trace(make_engine, caplog) -> None:
    from bot.dialogue.locks import RedisLocks

    with socket.socket() as probe:  # nobody listens here
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    engine = make_engine()
    engine.locks = RedisLocks(f"redis://127.0.0.1:{port}/0")
    events = asyncio.run(say(engine, "/greet"))
    assert [(e.type, e.code) for e in events] == [("error", "unavailable")]
    assert not [r for r in caplog.records if r.exc_info]
    assert "test:shopper" not in caplog.text


def test_a_failed_turn_is_logged_without_the_conversation_key(make_engine, caplog) -> None:
    """Finding 7's log line: the ERROR for a failed turn named the conversation (a shopper's key)."""
    engine = make_engine()
    engine.store.append_sync("test:s3cret-sender", [{"event": "user", "text": "hi"}])  # a damaged row: no timestamp
    events = asyncio.run(say(engine, "/greet", sender="s3cret-sender"))
    assert events[-1].type == "error" and events[-1].code == "internal"
    failed = [r for r in caplog.records if r.levelname == "ERROR"]
    assert failed and all("s3cret-sender" not in r.getMessage() for r in failed)
    assert "test#" in failed[0].getMessage()


def test_a_replayed_restart_is_answered_once(make_engine) -> None:
    """Finding 8: Telegram's retry of a `/restart` (same message id) was answered every time."""
    engine = make_engine()

    async def chat():
        return [[e async for e in engine.handle(Inbound("s", "/restart", "telegram", message_id="u-7"))]
                for _ in range(3)]

    first, second, third = asyncio.run(chat())
    assert "Starting over" in texts(first) and second == [] and third == []


def test_a_message_whose_turn_was_cut_is_answered_when_it_comes_again(make_engine) -> None:
    """Finding 10: a turn cut mid-way (the server stopped, the client gone) left the message "seen", so sending it
    again was never answered. Only a turn that ran to its end counts."""
    engine = make_engine()

    async def chat():
        stream = engine.handle(Inbound("s", "do you ship to Canada?", "rest", message_id="m-9"))
        first = [await stream.__anext__() for _ in range(2)]  # typing and the first chunk, then the client is gone
        await stream.aclose()
        again = [e async for e in engine.handle(Inbound("s", "do you ship to Canada?", "rest", message_id="m-9"))]
        retried = [e async for e in engine.handle(Inbound("s", "do you ship to Canada?", "rest", message_id="m-9"))]
        return first, again, retried

    first, again, retried = asyncio.run(chat())
    assert [e.type for e in first] == ["typing", "chunk"]
    assert "Canada" in texts(again) and retried == []


def test_a_draining_engine_finishes_its_turns_and_refuses_new_ones(make_engine) -> None:
    engine = make_engine()

    async def chat():
        stream = engine.handle(Inbound("s", "do you ship to Canada?", "test"))
        first = await stream.__anext__()  # a turn in flight
        drain = asyncio.create_task(engine.drain(30))
        await asyncio.sleep(0)
        refused = await say(engine, "/greet", sender="late")
        rest = [e async for e in stream]
        return first, refused, rest, await drain

    first, refused, rest, drained = asyncio.run(chat())
    assert first.type == "typing" and rest[-1].type == "message" and "Canada" in rest[-1].text
    assert [(e.type, e.code) for e in refused] == [("error", "unavailable")] and drained is True
    assert engine.turns_in_flight == 0
