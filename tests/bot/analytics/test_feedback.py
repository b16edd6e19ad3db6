"""A chat's thumbs up or down (CSAT) over `/ws` `feedback` frames and `POST /webhooks/rest/feedback`, on a real
server with a real store: kept as a `csat` event of the conversation's log once there is a chat to rate, bad frames
answered with an `error` while the socket goes on, one session unable to rate another's chat, rates, the token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest

from bot.analytics.chats import chats_from_events
from bot.config import ServerSettings, Settings
from bot.dialogue.store import ConversationStore
from tests.bot.channels.conftest import run
from tests.support import bot_app, running_app

REST_FEEDBACK, REST_MESSAGE = "/webhooks/rest/feedback", "/webhooks/rest/webhook"


@pytest.fixture
def serve(make_engine, demo_store, tmp_path: Path):
    """`async with serve(**server_settings) as (server, store):` the whole app over a SQLite store."""

    @asynccontextmanager
    async def running(**options) -> AsyncIterator[tuple[object, ConversationStore]]:
        store = ConversationStore(tmp_path / "conversations.db")
        settings = Settings(server=ServerSettings(**options), data_dir=tmp_path / "data")
        try:
            async with running_app(bot_app(make_engine(store=store), demo_store, settings)) as server:
                yield server, store
        finally:
            store.close()

    return running


async def turn(ws: aiohttp.ClientWebSocketResponse, text: str) -> dict:
    await ws.send_json({"type": "message", "text": text})
    while True:
        frame = await ws.receive_json(timeout=30)
        if frame["type"] in ("message", "error", "handoff"):
            return frame


async def rate(ws: aiohttp.ClientWebSocketResponse, frame: object) -> dict:
    await ws.send_json(frame)
    return await ws.receive_json(timeout=30)


def ratings(store: ConversationStore, conversation_id: str) -> list[dict]:
    return [e for e in store.load_all_sync(conversation_id) if e["event"] == "csat"]


def test_a_rating_is_kept_once_there_is_a_chat_and_the_latest_counts(serve) -> None:
    async def scenario():
        async with serve() as (server, store), aiohttp.ClientSession() as http:
            async with http.ws_connect(server.make_url("/ws")) as ws:
                conversation = f"web:{(await ws.receive_json())['session_id']}"
                early = await rate(ws, {"type": "feedback", "rating": "up"})
                await turn(ws, "/greet")
                acks = [await rate(ws, {"type": "feedback", "rating": "down"}),
                        await rate(ws, {"type": "feedback", "rating": "up"})]
                return early, acks, store.load_all_sync(conversation), conversation

    early, acks, stored, conversation = run(scenario())
    assert early["type"] == "error" and early["code"] == "nothing_to_rate" and early["feedback"] is True
    assert acks == [{"type": "feedback_ack", "rating": "down"}, {"type": "feedback_ack", "rating": "up"}]
    kept = [e for e in stored if e["event"] == "csat"]
    assert [(e["rating"], e["channel"]) for e in kept] == [("down", "web"), ("up", "web")]
    assert set(kept[0]) == {"event", "timestamp", "rating", "channel"}
    assert stored.index(kept[0]) > max(i for i, e in enumerate(stored) if e["event"] == "user")
    assert [c.csat for c in chats_from_events(conversation, stored)] == ["up"]


@pytest.mark.parametrize("frame", [
    {"type": "feedback", "rating": "sideways"},
    {"type": "feedback", "rating": "UP"},
    {"type": "feedback", "rating": 1},
    {"type": "feedback", "rating": ["up"]},
    {"type": "feedback"},
    {"type": "feedback", "rating": "up", "conversation_id": "web:someone-else"},   # never another chat
    {"type": "feedback", "rating": "up", "session_id": "x" * 44},
    {"type": "feedback", "rating": "up", "text": "great bot"},                     # no free text is kept
])
def test_bad_ratings_get_an_error_and_the_socket_goes_on(serve, frame: dict) -> None:
    async def scenario():
        async with serve() as (server, store), aiohttp.ClientSession() as http:
            async with http.ws_connect(server.make_url("/ws")) as ws:
                conversation = f"web:{(await ws.receive_json())['session_id']}"
                await turn(ws, "/greet")
                refused = await rate(ws, frame)
                reply = await turn(ws, "/help")
                return refused, reply, ratings(store, conversation), ratings(store, "web:someone-else")

    refused, reply, mine, theirs = run(scenario())
    assert refused["type"] == "error" and refused["code"] == "invalid_feedback" and refused["feedback"] is True
    assert reply["type"] == "message"          # the connection is still good
    assert mine == [] and theirs == []


def test_ratings_have_a_rate_of_their_own(serve) -> None:
    async def scenario():
        async with serve(messages_per_minute=3) as (server, _), aiohttp.ClientSession() as http:
            async with http.ws_connect(server.make_url("/ws")) as ws:
                await ws.receive_json()
                await turn(ws, "/greet")
                answers = [await rate(ws, {"type": "feedback", "rating": "up"}) for _ in range(4)]
                return answers, await turn(ws, "/help")

    answers, reply = run(scenario())
    assert [a["type"] for a in answers] == ["feedback_ack"] * 3 + ["error"]
    assert answers[-1]["code"] == "rate_limited"
    assert reply["type"] == "message"          # messages are counted apart from ratings


def test_rest_ratings(serve) -> None:
    async def scenario():
        async with serve() as (server, store), aiohttp.ClientSession() as http:
            async def post(path: str, body: object) -> tuple[int, dict]:
                async with http.post(server.make_url(path), json=body) as response:
                    return response.status, await response.json()

            early = await post(REST_FEEDBACK, {"sender": "s-1", "rating": "up"})
            await post(REST_MESSAGE, {"sender": "s-1", "message": "/greet"})
            kept = await post(REST_FEEDBACK, {"sender": "s-1", "rating": "down"})
            bad = [await post(REST_FEEDBACK, body) for body in (
                {"sender": "s-1", "rating": "meh"}, {"rating": "up"}, {"sender": "s-1"}, ["up"],
                {"sender": "s-1", "rating": "up", "conversation_id": "rest:s-2"})]
            return early, kept, bad, ratings(store, "rest:s-1")

    early, kept, bad, stored = run(scenario())
    assert early == (409, {"type": "error", "code": "nothing_to_rate",
                           "detail": "there is no chat to rate yet: send a message first"})
    assert kept == (200, {"type": "feedback_ack", "rating": "down"})
    assert [status for status, _ in bad] == [400] * 5
    assert {body["code"] for _, body in bad} == {"invalid_feedback"}
    assert [(e["rating"], e["channel"]) for e in stored] == [("down", "rest")]


def test_rest_ratings_need_the_channel_token(serve) -> None:
    async def scenario():
        async with serve(auth_token="chan-secret") as (server, store), aiohttp.ClientSession() as http:
            async with http.post(server.make_url(REST_FEEDBACK), json={"sender": "s-1", "rating": "up"}) as r:
                return r.status, (await r.json())["code"]

    assert run(scenario()) == (401, "unauthorized")
