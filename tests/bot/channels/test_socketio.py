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
