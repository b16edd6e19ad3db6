"""Two real `shopbot serve` processes on one PostgreSQL database and one Redis: one conversation driven through
both, the agent replying through the replica the shopper is not connected to.

Skips where PostgreSQL or Redis does not run (fails instead with SHOPBOT_REQUIRE_SERVICES=1). Button payloads
drive the dialogue, so no trained NLU is needed."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import socketio

from tests.integration.replicas import AGENT_TOKEN, Replica

AGENT = {"Authorization": f"Bearer {AGENT_TOKEN}"}
WAIT_S = 30
AGENT_TEXT = "Hi, Sam here from the team."
BACK_TEXT = "back with the assistant"


def run(coroutine):
    return asyncio.run(coroutine)


async def receive(ws: aiohttp.ClientWebSocketResponse) -> dict:
    """The next frame, or TimeoutError after WAIT_S (aiohttp's own `timeout` restarts at every server ping)."""
    return await asyncio.wait_for(ws.receive_json(), WAIT_S)


def resume_query(session: dict[str, Any]) -> dict[str, str]:
    """What docs/protocol.md says a reconnect sends: the session id, and its secret where the server issues one."""
    query = {"session_id": session["session_id"]}
    for key in ("secret", "session_secret", "resume_secret"):
        if session.get(key):
            query[key] = session[key]
    return query


async def until_final(ws: aiohttp.ClientWebSocketResponse) -> list[dict]:
    """Frames up to and including the turn's last `message`, `handoff` or `error`."""
    frames = []
    while True:
        frame = await receive(ws)
        frames.append(frame)
        if frame["type"] in ("message", "handoff", "error"):
            return frames


async def turn(ws: aiohttp.ClientWebSocketResponse, text: str) -> list[dict]:
    await ws.send_json({"type": "message", "text": text})
    return await until_final(ws)


async def until_handed_off(http: aiohttp.ClientSession, replica: Replica, conversation: str) -> None:
    """Wait until `replica` lists the conversation among the handed-off chats (the store is shared)."""
    for _ in range(int(WAIT_S / 0.1)):
        listed = await (await http.get(f"{replica.url}/agent/api/conversations", headers=AGENT)).json()
        if conversation in [c["id"] for c in listed]:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{conversation} was never listed as handed off on {replica.url}")


async def agent_reply_and_resume(http: aiohttp.ClientSession, replica: Replica, conversation: str) -> list[int]:
    api = f"{replica.url}/agent/api/conversations/{conversation}"
    sent = await http.post(f"{api}/messages", json={"text": AGENT_TEXT}, headers=AGENT)
    back = await http.post(f"{api}/resume", headers=AGENT)
    return [sent.status, back.status]


def test_a_ws_shopper_on_a_hears_the_agent_replying_through_b_exactly_once(two_replicas: list[Replica]) -> None:
    a, b = two_replicas

    async def chat():
        async with aiohttp.ClientSession() as http:
            async with http.ws_connect(f"{a.url}/ws") as ws:           # the conversation starts on A
                session = await receive(ws)
                helped = await turn(ws, "/help")
            async with http.ws_connect(f"{b.url}/ws", params=resume_query(session)) as ws:   # resumed on B
                resumed = await receive(ws)
                history = await receive(ws)
                handed = await turn(ws, "/human_handoff")
            conversation = f"web:{session['session_id']}"
            async with http.ws_connect(f"{a.url}/ws", params=resume_query(session)) as ws, \
                    http.ws_connect(f"{a.url}/ws") as bystander:      # back on A, with another shopper beside it
                await receive(ws)
                await receive(ws)                # history
                other = await receive(bystander)
                waiting = await turn(ws, "my parcel never came")      # paused: the agent hears it
                await until_handed_off(http, b, conversation)
                transcript = await (await http.get(f"{b.url}/agent/api/conversations/{conversation}",
                                                   headers=AGENT)).json()
                statuses = await agent_reply_and_resume(http, b, conversation)   # the agent is on B
                pushed = []
                while not pushed or BACK_TEXT not in pushed[-1].get("text", ""):
                    pushed.append(await receive(ws))
                await ws.send_json({"type": "ping"})
                pushed.append(await receive(ws))   # nothing more before the pong
                await bystander.send_json({"type": "ping"})
                stray = await receive(bystander)
                return session, helped, resumed, history, handed, other, waiting, transcript, statuses, pushed, stray

    (session, helped, resumed, history, handed, other, waiting, transcript, statuses, pushed,
     stray) = run(chat())
    assert session["type"] == "session" and session["resumed"] is False and helped[-1]["type"] == "message"
    assert resumed["resumed"] is True and resumed["session_id"] == session["session_id"]
    assert history["type"] == "history" and history["messages"][0] == {"role": "user", "text": "/help"}
    assert handed[-1]["type"] == "message" and "handing this chat" in handed[-1]["text"]
    assert waiting[-1]["type"] == "handoff" and waiting[-1]["data"]["status"] == "with_agent"
    assert transcript["paused"] is True and transcript["messages"][-1] == {"role": "user",
                                                                          "text": "my parcel never came"}
    assert statuses == [200, 200]
    assert [(f["type"], f.get("text")) for f in pushed[:1]] == [("message", AGENT_TEXT)]
    assert pushed[0]["data"] == {"agent": "agent"}
    assert len(pushed) == 3 and BACK_TEXT in pushed[1]["text"] and pushed[2] == {"type": "pong"}
    assert other["session_id"] != session["session_id"] and stray == {"type": "pong"}   # nothing misrouted


def test_a_socketio_shopper_on_a_hears_the_agent_replying_through_b_exactly_once(
        two_replicas: list[Replica]) -> None:
    a, b = two_replicas

    async def chat():
        client = socketio.AsyncClient()
        received: asyncio.Queue = asyncio.Queue()
        confirmed: asyncio.Future = asyncio.get_running_loop().create_future()
        client.on("bot_uttered", lambda data: received.put_nowait(data))
        client.on("session_confirm", lambda sid: confirmed.done() or confirmed.set_result(sid))
        await client.connect(a.url, socketio_path="socket.io", transports=["websocket"])
        try:
            await client.emit("session_request", {})
            session = await asyncio.wait_for(confirmed, WAIT_S)
            conversation = f"socketio:{session}"
            await client.emit("user_uttered", {"message": "/human_handoff", "session_id": session,
                                               "customData": {}})
            async with aiohttp.ClientSession() as http:
                await until_handed_off(http, b, conversation)
                statuses = await agent_reply_and_resume(http, b, conversation)
            messages = []
            while BACK_TEXT not in (messages[-1].get("text") or "" if messages else ""):
                messages.append(await asyncio.wait_for(received.get(), WAIT_S))
            await client.emit("user_uttered", {"message": "/help", "session_id": session, "customData": {}})
            after = await asyncio.wait_for(received.get(), WAIT_S)
        finally:
            await client.disconnect()
        return statuses, messages, after

    statuses, messages, after = run(chat())
    texts = [m.get("text") for m in messages]
    assert statuses == [200, 200]
    assert any("handing this chat" in (t or "") for t in texts)
    assert texts.count(AGENT_TEXT) == 1 and {"custom": {"agent": "agent"}} in messages
    assert texts.index(AGENT_TEXT) < len(texts) - 1 and BACK_TEXT in texts[-1]
    assert after.get("text") and AGENT_TEXT != after.get("text")   # the bot answers again; no late duplicate


async def one_session_turns(http: aiohttp.ClientSession, base: str, texts: list[str],
                            session: dict[str, Any] | None = None) -> tuple[dict[str, Any], list[dict]]:
    """Connect to `base` (resuming `session` if given), send each text as a turn; the session frame and the
    final frame of each turn."""
    params = resume_query(session) if session else None
    async with http.ws_connect(f"{base}/ws", params=params) as ws:
        hello = await receive(ws)
        if hello.get("resumed"):
            await receive(ws)   # history
        finals = [(await turn(ws, text))[-1] for text in texts]
    return hello, finals


def test_the_per_session_rate_limit_counts_the_messages_sent_to_both_replicas(two_replicas: list[Replica]) -> None:
    """`server.messages_per_minute` is 12 here: 6 messages on A, 6 on B after a resume, and the 13th is refused
    (per-process counters would have let it through: A had seen 6)."""
    a, b = two_replicas

    async def chat():
        async with aiohttp.ClientSession() as http:
            session, first = await one_session_turns(http, a.url, ["/help"] * 6)
            _, second = await one_session_turns(http, b.url, ["/help"] * 6, session)
            _, third = await one_session_turns(http, a.url, ["/help"], session)
        return first + second, third

    allowed, refused = run(chat())
    assert [f["type"] for f in allowed] == ["message"] * 12
    assert refused[0]["type"] == "error" and refused[0]["code"] == "rate_limited"


def test_failed_order_checks_on_one_replica_lock_the_email_out_on_the_other(two_replicas: list[Replica]) -> None:
    """Five wrong order numbers for a known email, each in a new session, alternating A and B; then the right pair
    in a new session is refused (the strike ledger is in the shared Redis, not in a process or a conversation)."""
    a, b = two_replicas
    email = '/inform{"email": "avery_singh86@example.org"}'

    async def chat():
        async with aiohttp.ClientSession() as http:
            guesses = []
            for number, order in enumerate(["10401", "10402", "10403", "10404", "10405"]):
                _, finals = await one_session_turns(http, (a, b)[number % 2].url,
                                                    [f'/order_status{{"order_id": "{order}"}}', email])
                guesses.append(finals[-1]["text"])
            _, finals = await one_session_turns(http, b.url, ['/order_status{"order_id": "10445"}', email])
        return guesses, finals[-1]["text"]

    guesses, last = run(chat())
    assert all("don't match" in text or "can't look up orders" in text for text in guesses[:4]), guesses
    assert "Order 10445" not in last and "can't look up orders in this chat any more" in last
