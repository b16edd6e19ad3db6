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
