"""The /ws protocol on a real server: streaming, errors that keep the socket open, resume, auth, limits."""

from __future__ import annotations

import socket
from pathlib import Path

import aiohttp
import pytest

from bot.channels.websocket import HIDDEN
from bot.dialogue.errors import StateUnavailable
from bot.dialogue.store import ConversationStore
from tests.bot.channels.conftest import run

VERIFY = ['/order_status{"order_id": "10445"}', '/inform{"email": "avery_singh86@example.org"}']
TRACKING = "9126145823"   # order 10445's tracking number in the demo orders


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
    assert hello["type"] == "session" and len(hello["session_id"]) == 44 and hello["resumed"] is False
    assert len(hello["secret"]) == 43 and "reason" not in hello
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


def test_a_reconnect_with_the_session_id_and_secret_resumes_the_conversation(serve) -> None:
    async def chat():
        async with serve() as server, aiohttp.ClientSession() as http:
            async with http.ws_connect(server.make_url("/ws")) as ws:
                first = await ws.receive_json()
                await ws.send_json({"type": "message", "text": VERIFY[0]})
                await until_final(ws)
            async with http.ws_connect(server.make_url("/ws").with_query(session_id=first["session_id"],
                                                                         secret=first["secret"])) as ws:
                hello, history = await ws.receive_json(), await ws.receive_json()
                await ws.send_json({"type": "message", "text": VERIFY[1]})
                return first, hello, history, await until_final(ws)

    first, hello, history, frames = run(chat())
    assert hello == {"type": "session", "session_id": first["session_id"], "secret": first["secret"], "resumed": True}
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
                await ws.send_json({"type": "ping"})
                await ws.receive_json()
                closing = await ws.receive(timeout=10)
                return full.status, (await full.json())["code"], closing.type, ws.close_code

    status, code, closing, close_code = run(chat())
    assert status == 503 and code == "too_many_connections"
    assert closing == aiohttp.WSMsgType.CLOSE and close_code == 4000


# -- the session a client resumes is one this server issued, proven with its secret (finding 5) -------------------


async def say(ws: aiohttp.ClientWebSocketResponse, text: str) -> list[dict]:
    await ws.send_json({"type": "message", "text": text})
    return await until_final(ws)


def test_a_session_id_the_client_chose_is_never_adopted(serve) -> None:
    chosen = "attacker-chosen-id-0123456789"

    async def chat():
        async with serve() as server, aiohttp.ClientSession() as http:
            async with http.ws_connect(server.make_url(f"/ws?session_id={chosen}")) as victim:
                mine = await victim.receive_json()
                for text in VERIFY:
                    verified = await say(victim, text)
                async with http.ws_connect(server.make_url(f"/ws?session_id={chosen}")) as attacker:
                    theirs = await attacker.receive_json()
                    await attacker.send_json({"type": "ping"})
                    after_hello = await attacker.receive_json()
            return mine, verified, theirs, after_hello

    mine, verified, theirs, after_hello = run(chat())
    assert TRACKING in verified[-1]["text"]
    assert mine["session_id"] != chosen and mine["resumed"] is False and mine["reason"] == "invalid_session"
    assert theirs["session_id"] not in (chosen, mine["session_id"]) and theirs["resumed"] is False
    assert after_hello == {"type": "pong"}   # no history frame: nothing of the victim's conversation


def test_an_issued_id_without_its_secret_does_not_resume(serve) -> None:
    async def chat():
        async with serve() as server, aiohttp.ClientSession() as http:
            async with http.ws_connect(server.make_url("/ws")) as victim:
                hello = await victim.receive_json()
                for text in VERIFY:
                    await say(victim, text)
            async with http.ws_connect(server.make_url("/ws")) as other:
                other_hello = await other.receive_json()
            tries = []
            for secret in (None, "x" * 43, other_hello["secret"], hello["secret"][:-2] + "ø", ""):
                query = {"session_id": hello["session_id"], **({"secret": secret} if secret is not None else {})}
                async with http.ws_connect(server.make_url("/ws").with_query(query)) as attacker:
                    tries.append(await attacker.receive_json())
                    tries[-1]["asked_cancel"] = (await say(attacker, "/cancel_order"))[-1]["text"]
            return hello, tries

    hello, tries = run(chat())
    for attempt in tries:
        assert attempt["session_id"] != hello["session_id"] and attempt["resumed"] is False
        assert attempt["reason"] == "invalid_session" and "Traceback" not in attempt["detail"]
        assert "10445" not in attempt["asked_cancel"]   # a fresh conversation: it asks which order


def test_the_history_after_a_resume_hides_order_facts_the_agent_still_sees_them(serve) -> None:
    async def chat():
        async with serve(agent_token="agent-key") as server, aiohttp.ClientSession() as http:
            async with http.ws_connect(server.make_url("/ws")) as ws:
                hello = await ws.receive_json()
                await say(ws, "/greet")
                for text in VERIFY:
                    verified = await say(ws, text)
            resume = server.make_url("/ws").with_query(session_id=hello["session_id"], secret=hello["secret"])
            async with http.ws_connect(resume) as ws:
                resumed, history = await ws.receive_json(), await ws.receive_json()
                again = await say(ws, "/track_shipment")   # the holder of the secret can still ask again
            transcript = await (await http.get(server.make_url(f"/agent/api/conversations/web:{hello['session_id']}"),
                                               headers={"Authorization": "Bearer agent-key"})).json()
            return verified, resumed, history, again, transcript

    verified, resumed, history, again, transcript = run(chat())
    assert TRACKING in verified[-1]["text"] and resumed["resumed"] is True
    texts = [m["text"] for m in history["messages"]]
    assert not any(TRACKING in t or "10445 shipped" in t for t in texts)
    assert texts[-1] == HIDDEN and history["messages"][-1]["hidden"] is True
    assert any("email" in t for t in texts) and history["messages"][0]["role"] == "user"
    assert TRACKING in again[-1]["text"]
    assert any(TRACKING in m["text"] for m in transcript["messages"])


def test_sessions_resume_across_a_restart_and_a_replica_sharing_the_data_folder(serve, tmp_path: Path) -> None:
    data = tmp_path / "shared"

    async def chat():
        async with aiohttp.ClientSession() as http:
            async with serve(data_dir=data) as first:
                async with http.ws_connect(first.make_url("/ws")) as ws:
                    hello = await ws.receive_json()
            query = {"session_id": hello["session_id"], "secret": hello["secret"]}
            async with serve(data_dir=data) as restarted:
                async with http.ws_connect(restarted.make_url("/ws").with_query(query)) as ws:
                    after_restart = await ws.receive_json()
            async with serve(data_dir=tmp_path / "elsewhere") as stranger:
                async with http.ws_connect(stranger.make_url("/ws").with_query(query)) as ws:
                    other_key = await ws.receive_json()
            async with serve(data_dir=tmp_path / "a", session_key="k" * 32) as a, \
                    serve(data_dir=tmp_path / "b", session_key="k" * 32) as b:
                async with http.ws_connect(a.make_url("/ws")) as ws:
                    on_a = await ws.receive_json()
                async with http.ws_connect(b.make_url("/ws").with_query(session_id=on_a["session_id"],
                                                                        secret=on_a["secret"])) as ws:
                    on_b = await ws.receive_json()
            return after_restart, other_key, on_b

    after_restart, other_key, on_b = run(chat())
    assert after_restart["resumed"] is True and on_b["resumed"] is True
    assert other_key["resumed"] is False and other_key["reason"] == "invalid_session"
    assert (data / "session.key").stat().st_mode & 0o777 == 0o600


# -- connection caps (finding 6) -------------------------------------------------------------------------------------


def second_address() -> str | None:
    """Another loopback address this machine can connect from (Linux routes all of 127.0.0.0/8 to `lo`)."""
    try:
        with socket.socket() as probe:
            probe.bind(("127.0.0.2", 0))
    except OSError:
        return None
    return "127.0.0.2"


def test_a_flood_from_one_address_is_capped_while_another_address_still_connects(serve) -> None:
    other = second_address()
    if other is None:
        pytest.skip("no second loopback address here")

    async def chat():
        async with serve(max_connections_per_ip=3) as server, aiohttp.ClientSession() as http, \
                aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(other, 0))) as elsewhere:
            held = [await http.ws_connect(server.make_url("/ws")) for _ in range(3)]
            for ws in held:
                await ws.receive_json()
            refused = await http.get(server.make_url("/ws"))
            refusal = (refused.status, await refused.json())
            async with elsewhere.ws_connect(server.make_url("/ws")) as ws:
                other_hello = await ws.receive_json()
            await held.pop().close()
            async with http.ws_connect(server.make_url("/ws")) as ws:
                again = await ws.receive_json()
            for ws in held:
                await ws.close()
            return refusal, other_hello, again

    (status, body), other_hello, again = run(chat())
    assert status == 429 and body["code"] == "too_many_connections_from_address" and "3" in body["detail"]
    assert other_hello["type"] == "session" and again["type"] == "session"


def test_a_socket_that_never_sends_a_frame_is_closed_early(serve) -> None:
    async def chat():
        async with serve(first_message_timeout_s=0.5) as server, aiohttp.ClientSession() as http:
            async with http.ws_connect(server.make_url("/ws")) as ws:
                await ws.receive_json()
                closing = await ws.receive(timeout=30)
                return closing.type, ws.close_code

    closing, code = run(chat())
    assert closing == aiohttp.WSMsgType.CLOSE and code == 4001


# -- frames over the size limit (finding 8) and failed turns (finding 9) -----------------------------------------------


def test_a_70_kib_frame_gets_too_large_and_the_socket_stays_usable(serve) -> None:
    async def chat():
        async with serve() as server, aiohttp.ClientSession() as http:
            async with http.ws_connect(server.make_url("/ws")) as ws:
                await ws.receive_json()
                await ws.send_json({"type": "message", "text": "x" * (70 * 1024)})
                error = await ws.receive_json(timeout=10)
                await ws.send_json({"type": "ping"})
                pong = await ws.receive_json(timeout=10)
                return error, pong, await say(ws, "/greet")

    error, pong, frames = run(chat())
    assert error["type"] == "error" and error["code"] == "too_large" and "KiB" in error["detail"]
    assert pong == {"type": "pong"} and frames[-1]["type"] == "message"


class FailingOnce(ConversationStore):
    """A real SQLite store whose next `load` (or `append`) fails once, as a database or Redis outage would."""

    def __init__(self, failure: Exception, on: str):
        super().__init__()
        self.failure, self.on = failure, on

    async def load(self, conversation_id: str, message_id: str | None = None):
        if self.on == "load" and self.failure is not None:
            failure, self.failure = self.failure, None
            raise failure
        return await super().load(conversation_id, message_id)

    async def append(self, conversation_id, new_events, *args, **kwargs):
        if self.on == "append" and self.failure is not None:
            failure, self.failure = self.failure, None
            raise failure
        return await super().append(conversation_id, new_events, *args, **kwargs)


@pytest.mark.parametrize(("failure", "on", "code"), [
    (StateUnavailable("the database is down"), "load", "unavailable"),
    (OSError("disk full"), "append", "internal"),
    (StateUnavailable("redis is down"), "engine", "unavailable"),
    (RuntimeError("a bug"), "engine", "internal"),
], ids=["store-unavailable", "disk-full", "engine-unavailable", "engine-bug"])
def test_a_failed_turn_gets_an_error_frame_and_the_next_message_is_answered(serve, failure, on, code,
                                                                            caplog) -> None:
    options = {"handle_fails": failure} if on == "engine" else {"store": FailingOnce(failure, on)}

    async def chat():
        async with serve(**options) as server, aiohttp.ClientSession() as http:
            async with http.ws_connect(server.make_url("/ws")) as ws:
                hello = await ws.receive_json()
                await ws.send_json({"type": "message", "text": "/greet", "message_id": "m1"})
                failed = await until_final(ws)
                return hello, failed, await say(ws, "/greet")

    hello, failed, answered = run(chat())
    assert failed[-1]["type"] == "error" and failed[-1]["code"] == code and "Traceback" not in failed[-1]["detail"]
    assert answered[-1]["type"] == "message" and answered[-1]["text"]
    assert hello["session_id"] not in caplog.text
