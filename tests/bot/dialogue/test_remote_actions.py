"""The actions on a stock rasa-sdk action server (`python -m rasa_sdk --actions actions`), driven by the engine."""

from __future__ import annotations

import asyncio
import signal
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.dialogue.executor import ActionUnavailable, RemoteExecutor
from tests.bot.dialogue.conftest import say, texts
from tests.support import ActionServer, free_port


@pytest.fixture(scope="module")
def action_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A stock rasa-sdk action server over the demo orders, for the module; yields its URL."""
    with ActionServer(tmp_path_factory.mktemp("action-server")) as server:
        yield server.url


def test_the_server_lists_every_action_of_the_domain(action_server: str, demo_domain) -> None:
    import json

    with urllib.request.urlopen(f"{action_server}/actions") as response:
        names = {a["name"] for a in json.loads(response.read())}
    assert set(demo_domain.actions) <= names


def test_a_full_cancellation_runs_on_the_action_server(action_server: str, make_engine) -> None:
    engine = make_engine(executor=RemoteExecutor(action_server))

    async def chat():
        try:
            asked = await say(engine, '/cancel_order{"order_id": "10455"}')
            wrong = await say(engine, '/inform{"email": "someone@example.com"}')
            await say(engine, '/inform{"order_id": "10455"}')
            confirm = await say(engine, '/inform{"email": "owenxu@example.net"}')
            done = await say(engine, "/affirm")
            return asked, wrong, confirm, done
        finally:
            await engine.close()

    asked, wrong, confirm, done = asyncio.run(chat())
    assert "email" in texts(asked)
    assert "don't match" in texts(wrong) and "4 tries left" in texts(wrong)
    assert "Cancel order 10455" in texts(confirm) and [b["title"] for b in confirm[-1].buttons] == ["Yes", "No"]
    assert "Order 10455 is cancelled" in texts(done)


def test_an_unknown_action_is_reported_not_retried(action_server: str) -> None:
    executor = RemoteExecutor(action_server)

    async def call():
        try:
            await executor.run("action_does_not_exist", {"sender_id": "x", "slots": {}, "events": [],
                                                          "latest_message": {}}, {})
        finally:
            await executor.close()

    with pytest.raises(ActionUnavailable, match="no action 'action_does_not_exist'"):
        asyncio.run(call())


def test_a_change_sent_to_a_stalled_server_has_an_unknown_outcome_a_look_up_is_unavailable(tmp_path: Path) -> None:
    """Finding 11: a cancellation whose request reached a stalled server was reported as failed (and sent twice
    more). It is an unknown outcome, not retried; a look-up is retried and then unavailable; a refused connection
    means nothing was sent, so even a change is plainly unavailable."""
    from bot.dialogue.executor import ActionOutcomeUnknown
    from tests.faults.harness import order_backend

    server = ActionServer(tmp_path / "actions", order_backend(tmp_path / "store.db"))
    server.start()
    state = {"sender_id": "x", "slots": {}, "events": [], "latest_message": {}}

    async def calls():
        executor = RemoteExecutor(server.url, timeout_s=1, attempts=2, backoff_s=0.01)
        refused = RemoteExecutor(f"http://127.0.0.1:{free_port()}", timeout_s=1, attempts=2, backoff_s=0.01)
        outcomes = []
        try:
            for runner, action in ((executor, "action_cancel_order"), (executor, "action_order_status"),
                                   (refused, "action_cancel_order")):
                try:
                    await runner.run(action, state, {})
                except ActionUnavailable as exc:
                    outcomes.append(type(exc))
        finally:
            await executor.close()
            await refused.close()
        return outcomes

    server.signal(signal.SIGSTOP)
    try:
        outcomes = asyncio.run(calls())
    finally:
        server.stop()
    assert outcomes == [ActionOutcomeUnknown, ActionUnavailable, ActionUnavailable]
