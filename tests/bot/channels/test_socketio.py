"""Rasa's socket.io protocol with the python-socketio client: sessions, buttons as quick replies, images, auth."""

from __future__ import annotations

import asyncio

import pytest
import socketio

from tests.bot.channels.conftest import run


async def converse(url: str, messages: list[str], auth: dict | None = None, session_id: str | None = None):
    client = socketio.AsyncClient()
    received: asyncio.Queue = asyncio.Queue()
    confirmed: asyncio.Future = asyncio.get_running_loop().create_future()
    client.on("bot_uttered", lambda data: received.put_nowait(data))
    client.on("session_confirm", lambda sid: confirmed.done() or confirmed.set_result(sid))
    await client.connect(url, auth=auth, socketio_path="socket.io", transports=["websocket"])
    await client.emit("session_request", {"session_id": session_id})
    session = await asyncio.wait_for(confirmed, 10)
    replies = []
    for text in messages:
        await client.emit("user_uttered", {"message": text, "session_id": session, "customData": {}})
        batch = [await asyncio.wait_for(received.get(), 30)]
        await asyncio.sleep(0.3)  # the turn's other messages
        while not received.empty():
            batch.append(received.get_nowait())
        replies.append(batch)
    await client.disconnect()
    return session, replies


def test_webchat_protocol_with_quick_replies_images_and_a_resumed_session(serve) -> None:
    async def chat():
        async with serve() as server:
            url = str(server.make_url("/"))
            session, first = await converse(url, ["/help", "show me waterproof jackets"])
            again, second = await converse(url, ['/order_status{"order_id": "10445"}',
                                                 '/inform{"email": "avery_singh86@example.org"}'], session_id=session)
            return session, again, first, second

    session, again, (help_reply, products), (_, status) = run(chat())
    assert again == session
    assert help_reply[0]["quick_replies"][0] == {"content_type": "text", "title": "Where's my order?",
                                                 "payload": "/order_status"}
    assert any(m.get("attachment", {}).get("type") == "image" and m["attachment"]["payload"]["src"].startswith("/")
               for m in products)
    assert status[0]["text"].startswith("Order 10445 shipped")


def test_socketio_needs_the_token_when_one_is_set(serve) -> None:
    async def chat():
        async with serve(auth_token="s3cret") as server:
            url = str(server.make_url("/"))
            with pytest.raises(socketio.exceptions.ConnectionError):
                await converse(url, ["/greet"])
            return await converse(url, ["/greet"], auth={"token": "s3cret"})

    _, replies = run(chat())
    assert replies[0][0]["text"]


# -- only ids this server issued resume (finding 5); every connected socket counts (finding 6); a failed turn is an
# -- error and the next one is answered (finding 9) ------------------------------------------------------------------


async def confirm(url: str, session_id: object = None, **client_options) -> tuple[socketio.AsyncClient, str]:
    """A connected client that sent `session_request`, and the id the server confirmed."""
    client = socketio.AsyncClient(**client_options)
    confirmed: asyncio.Future = asyncio.get_running_loop().create_future()
    client.on("session_confirm", lambda sid: confirmed.done() or confirmed.set_result(sid))
    await client.connect(url, socketio_path="socket.io", transports=["websocket"])
    await client.emit("session_request", {"session_id": session_id})
    return client, await asyncio.wait_for(confirmed, 10)


def test_socketio_never_adopts_an_id_it_did_not_issue(serve) -> None:
    chosen = "attacker-chosen-id-0123456789"

    async def chat():
        async with serve() as server:
            url = str(server.make_url("/"))
            victim, victim_id = await confirm(url, chosen)
            await victim.disconnect()
            attacker, attacker_id = await confirm(url, chosen)
            await attacker.disconnect()
            again, again_id = await confirm(url, victim_id)   # the id the server issued does resume
            await again.disconnect()
            forged = victim_id[:22] + ("A" if victim_id[22] != "A" else "B") + victim_id[23:]
            tampered, tampered_id = await confirm(url, forged)
            await tampered.disconnect()
            # no session_request: an id in user_uttered that this server did not issue is refused
            bare = socketio.AsyncClient()
            replies: asyncio.Queue = asyncio.Queue()
            bare.on("bot_uttered", replies.put_nowait)
            await bare.connect(url, socketio_path="socket.io", transports=["websocket"])
            await bare.emit("user_uttered", {"message": "/greet", "session_id": chosen})
            refused = await asyncio.wait_for(replies.get(), 10)
            await bare.disconnect()
            return victim_id, attacker_id, again_id, forged, tampered_id, refused

    victim_id, attacker_id, again_id, forged, tampered_id, refused = run(chat())
    assert victim_id != chosen and attacker_id not in (chosen, victim_id) and again_id == victim_id
    assert tampered_id not in (forged, victim_id) and len(victim_id) == 44
    assert refused["custom"]["error"] == "no_session"


def test_socketio_counts_every_connected_socket_and_caps_each_address(serve) -> None:
    async def flood(url: str, count: int) -> tuple[list[socketio.AsyncClient], list[dict]]:
        held, refused = [], []
        for _ in range(count):
            client = socketio.AsyncClient()
            reasons: list = []
            client.on("connect_error", reasons.append)
            try:
                await client.connect(url, socketio_path="socket.io", transports=["websocket"])
                held.append(client)
            except socketio.exceptions.ConnectionError:
                refused.append(reasons[0])
        return held, refused

    async def chat():
        async with serve(max_connections=5) as server:
            held, refused_total = await flood(str(server.make_url("/")), 8)  # none sends session_request
            for client in held:
                await client.disconnect()
            total = len(held)
        async with serve(max_connections_per_ip=2) as server:
            held, refused_address = await flood(str(server.make_url("/")), 4)
            for client in held:
                await client.disconnect()
            return total, len(refused_total), len(held), refused_address

    total, refused_total, per_address, refused_address = run(chat())
    assert total == 5 and refused_total == 3
    assert per_address == 2 and len(refused_address) == 2
    assert refused_address[0]["data"] == {"code": "too_many_connections_from_address"}
    assert "per address" in refused_address[0]["message"]


def test_socketio_disconnects_a_socket_that_sends_nothing(serve) -> None:
    async def chat():
        async with serve(first_message_timeout_s=0.5) as server:
            client = socketio.AsyncClient(reconnection=False)
            gone: asyncio.Future = asyncio.get_running_loop().create_future()
            client.on("disconnect", lambda *_: gone.done() or gone.set_result(True))
            await client.connect(str(server.make_url("/")), socketio_path="socket.io", transports=["websocket"])
            return await asyncio.wait_for(gone, 30)

    assert run(chat()) is True


def test_a_failed_socketio_turn_gets_an_error_and_the_next_message_is_answered(make_engine, demo_store,
                                                                               tmp_path) -> None:
    from bot.config import ServerSettings, Settings
    from bot.dialogue.errors import StateUnavailable
    from tests.bot.channels.test_websocket import FailingOnce
    from tests.support import bot_app, running_app

    async def chat():
        engine = make_engine(store=FailingOnce(StateUnavailable("redis is down"), "load"))
        settings = Settings(server=ServerSettings(), data_dir=tmp_path)
        async with running_app(bot_app(engine, demo_store, settings)) as server:
            return await converse(str(server.make_url("/")), ["/greet", "/greet"])

    _, (failed, answered) = run(chat())
    assert failed[0]["custom"]["error"] == "unavailable" and "Traceback" not in failed[0]["text"]
    assert answered[0]["text"] and "custom" not in answered[0]
