"""The /ws protocol on a real server: streaming, errors that keep the socket open, resume, auth, limits."""

from __future__ import annotations

import aiohttp

from tests.bot.channels.conftest import run


async def until_final(ws: aiohttp.ClientWebSocketResponse) -> list[dict]:
    """Frames up to and including the turn's last `message` or `handoff`/`error`."""
    frames = []
    while True:
        frame = await ws.receive_json(timeout=30)
        frames.append(frame)
        if frame["type"] in ("message", "handoff", "error"):
            return frames


def test_a_question_streams_chunks_then_the_message_with_its_sources(serve) -> None:
    async def chat():
        async with serve() as server, aiohttp.ClientSession() as http:
            async with http.ws_connect(server.make_url("/ws")) as ws:
                hello = await ws.receive_json()
                await ws.send_json({"type": "message", "text": "do you ship to Canada?", "message_id": "m1"})
                return hello, await until_final(ws)

    hello, frames = run(chat())
    assert hello["type"] == "session" and len(hello["session_id"]) == 32 and hello["resumed"] is False
    kinds = [f["type"] for f in frames]
    assert kinds[0] == "typing" and "chunk" in kinds and kinds[-1] == "message"
    final = frames[-1]
    assert "Canada" in final["text"] and final["sources"] and final["message_id"] == "m1"
    assert "".join(f["text"] for f in frames if f["type"] == "chunk").strip() == final["text"].strip()


def test_bad_frames_get_an_error_and_the_socket_stays_usable(serve) -> None:
    async def chat():
        async with serve(max_message_chars=100) as server, aiohttp.ClientSession() as http:
            async with http.ws_connect(server.make_url("/ws")) as ws:
                await ws.receive_json()
                errors = []
                await ws.send_str("{not json")
                errors.append(await ws.receive_json())
                await ws.send_json({"type": "message", "text": "x" * 101, "message_id": "big"})
                errors.append(await ws.receive_json())
                await ws.send_json({"type": "dance"})
                errors.append(await ws.receive_json())
                await ws.send_bytes(b"\x00\x01")
                errors.append(await ws.receive_json())
                await ws.send_json({"type": "message", "text": ""})
                errors.append(await ws.receive_json())
                await ws.send_json({"type": "ping"})
                pong = await ws.receive_json()
                await ws.send_json({"type": "message", "text": "/greet"})
                return errors, pong, await until_final(ws)

    errors, pong, frames = run(chat())
    assert [e["code"] for e in errors] == ["invalid_json", "too_large", "unknown_type", "unsupported",
                                           "invalid_message"]
    assert all(e["type"] == "error" and e["detail"] and "Traceback" not in e["detail"] for e in errors)
    assert errors[1]["message_id"] == "big" and pong == {"type": "pong"}
    assert frames[-1]["type"] == "message" and frames[-1]["text"]


def test_a_reconnect_with_the_session_id_resumes_the_conversation(serve) -> None:
    async def chat():
        async with serve() as server, aiohttp.ClientSession() as http:
            async with http.ws_connect(server.make_url("/ws")) as ws:
                session = (await ws.receive_json())["session_id"]
                await ws.send_json({"type": "message", "text": '/order_status{"order_id": "10445"}'})
                await until_final(ws)
            async with http.ws_connect(server.make_url(f"/ws?session_id={session}")) as ws:
                hello, history = await ws.receive_json(), await ws.receive_json()
                await ws.send_json({"type": "message", "text": '/inform{"email": "avery_singh86@example.org"}'})
                return session, hello, history, await until_final(ws)

    session, hello, history, frames = run(chat())
    assert hello == {"type": "session", "session_id": session, "resumed": True}
    assert history["type"] == "history" and "email" in history["messages"][-1]["text"]
    assert "Order 10445 shipped" in frames[-1]["text"] and frames[-1]["data"]["order"]["id"] == "10445"


def test_token_origin_and_rate_limits(serve) -> None:
    async def chat():
        async with serve(auth_token="s3cret", messages_per_minute=2, cors_origins=["https://shop.example"]) as server:
            async with aiohttp.ClientSession() as http:
                refused = await http.get(server.make_url("/ws"))
                foreign = await http.get(server.make_url("/ws?token=s3cret"), headers={"Origin": "https://evil.example"})
                async with http.ws_connect(server.make_url("/ws?token=s3cret"),
                                           headers={"Origin": "https://shop.example"}) as ws:
                    await ws.receive_json()
                    replies = []
                    for _ in range(3):
                        await ws.send_json({"type": "message", "text": "/greet"})
                        replies.append((await until_final(ws))[-1])
                return refused.status, await refused.json(), foreign.status, replies

    status, body, foreign, replies = run(chat())
    assert status == 401 and body["code"] == "unauthorized" and foreign == 403
    assert [r["type"] for r in replies] == ["message", "message", "error"] and replies[2]["code"] == "rate_limited"


def test_idle_sockets_are_closed_and_the_connection_cap_holds(serve) -> None:
    async def chat():
        async with serve(idle_timeout_s=0.5, max_connections=1) as server, aiohttp.ClientSession() as http:
            async with http.ws_connect(server.make_url("/ws")) as ws:
                await ws.receive_json()
                full = await http.get(server.make_url("/ws"))
                closing = await ws.receive(timeout=10)
                return full.status, (await full.json())["code"], closing.type, ws.close_code

    status, code, closing, close_code = run(chat())
    assert status == 503 and code == "too_many_connections"
    assert closing == aiohttp.WSMsgType.CLOSE and close_code == 4000
