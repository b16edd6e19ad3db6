"""The remote action server stalls (SIGSTOP) or dies (SIGKILL) during a cancellation (finding 11): the shopper is
told it is not known yet whether it went through and that asking again is safe (never "it failed"), the bot
recovers once the server is back, and the back-end cancels the order exactly once."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest

from bot.dialogue.executor import RemoteExecutor
from bot.dialogue.store import ConversationStore
from bot.messages import Inbound
from tests.faults.harness import order_backend, side_effects
from tests.support import ActionServer

pytestmark = pytest.mark.timeout(600)


def engine_on(demo_store, url: str):
    from bot.app import build_bot
    from bot.config import Settings
    from bot.responder.responder import Responder

    executor = RemoteExecutor(url, timeout_s=2, attempts=3, backoff_s=0.05)
    return build_bot(Settings(), demo_store, Responder(None), None, ConversationStore(), executor).engine


async def say(engine, text: str, sender: str):
    return [e async for e in engine.handle(Inbound(sender, text, "test"))]


def texts(events) -> str:
    return " ".join(e.text for e in events if e.type in ("message", "handoff"))


async def up_to_confirmation(engine, sender: str, order: str, email: str) -> None:
    await say(engine, f'/cancel_order{{"order_id": "{order}"}}', sender)
    asked = await say(engine, f'/inform{{"email": "{email}"}}', sender)
    assert f"Cancel order {order}" in texts(asked), texts(asked)


def assert_unknown_outcome(events) -> None:
    said = texts(events)
    assert "can't tell yet whether that went through" in said and "safe to ask again" in said, said
    assert "can't reach" not in said and "failed" not in said
    assert events[-1].buttons == [{"title": "Talk to a person", "payload": "/human_handoff"}]


def test_a_stalled_then_resumed_action_server_cancels_once(demo_store, tmp_path: Path) -> None:
    store_db = order_backend(tmp_path / "store.db")
    actions = ActionServer(tmp_path / "actions", store_db)
    actions.start()
    engine = engine_on(demo_store, actions.url)

    async def chat():
        try:
            await up_to_confirmation(engine, "s", "10455", "owenxu@example.net")
            actions.signal(signal.SIGSTOP)
            stalled = await say(engine, "/affirm", "s")
            before = side_effects(store_db, "10455")
            actions.signal(signal.SIGCONT)
            again = await say(engine, "/affirm", "s")  # the shopper asks again, as told it is safe to
            return stalled, before, again
        finally:
            await engine.close()

    try:
        stalled, before, again = asyncio.run(chat())
    finally:
        actions.stop()
    assert_unknown_outcome(stalled)
    assert before == []  # stopped: nothing could have happened yet
    assert "10455" in texts(again) and "cancelled" in texts(again)
    assert side_effects(store_db, "10455") == ["cancelled"]   # once, whichever request got there first


def test_an_action_server_killed_mid_cancellation_recovers_when_restarted(demo_store, tmp_path: Path) -> None:
    store_db = order_backend(tmp_path / "store.db")
    actions = ActionServer(tmp_path / "actions", store_db)
    actions.start()
    engine = engine_on(demo_store, actions.url)

    async def chat():
        try:
            await up_to_confirmation(engine, "k", "10456", "julian.larsen81@example.org")
            actions.signal(signal.SIGSTOP)
            stalled = await say(engine, "/affirm", "k")
            actions.kill()      # it dies with the request unread
            down = await say(engine, "/affirm", "k")
            actions.start()     # back, same port, same back-end
            again = await say(engine, "/affirm", "k")
            return stalled, down, again
        finally:
            await engine.close()

    try:
        stalled, down, again = asyncio.run(chat())
    finally:
        actions.stop()
    assert_unknown_outcome(stalled)
    assert "can't reach our order system" in texts(down)  # refused outright: nothing was sent, it did not happen
    assert "Order 10456 is cancelled" in texts(again)
    assert side_effects(store_db, "10456") == ["cancelled"]
