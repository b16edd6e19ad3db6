"""Telegram and WhatsApp webhooks on a real server, replying to a local fake of each platform's API (the only fake:
the platforms' own servers are outside)."""

from __future__ import annotations

import asyncio
import json

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.channels.whatsapp import signature
from tests.bot.channels.conftest import run


class FakePlatform:
    """Records every API call and answers like the platform would."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict, dict]] = []
        self.arrived = asyncio.Event()
        app = web.Application()
        app.router.add_post("/{tail:.*}", self.record)
        self.server = TestServer(app)

    async def record(self, request: web.Request) -> web.Response:
        self.calls.append((request.path, await request.json(), dict(request.headers)))
        self.arrived.set()
        return web.json_response({"ok": True, "result": {}})

    async def wait_for(self, count: int, timeout: float = 30) -> None:
        async def enough():
            while len(self.calls) < count:
                self.arrived.clear()
                await self.arrived.wait()
        await asyncio.wait_for(enough(), timeout)


def update(update_id: int, text: str, chat: int = 777) -> dict:
    return {"update_id": update_id, "message": {"message_id": update_id, "chat": {"id": chat, "type": "private"},
                                                "from": {"id": chat}, "date": 0, "text": text}}


def test_telegram_checks_the_secret_replies_with_buttons_and_ignores_retries(serve) -> None:
    async def chat():
        platform = FakePlatform()
        await platform.server.start_server()
        try:
            options = {"telegram": {"token": "123:ABC", "secret_token": "hook-secret",
                                    "api_base": str(platform.server.make_url("")).rstrip("/")}}
            async with serve(**options) as server, aiohttp.ClientSession() as http:
                url = server.make_url("/webhooks/telegram")
                forged = await http.post(url, json=update(1, "/help"))
                headers = {"X-Telegram-Bot-Api-Secret-Token": "hook-secret"}
                first = await http.post(url, json=update(2, "/help"), headers=headers)
                await platform.wait_for(1)
                retry = await http.post(url, json=update(2, "/help"), headers=headers)  # Telegram retried it
                press = {"update_id": 3, "callback_query": {"id": "cb1", "data": "/greet", "from": {"id": 777},
                                                            "message": {"chat": {"id": 777}}}}
                await http.post(url, json=press, headers=headers)
                await platform.wait_for(3)
                await asyncio.sleep(0.5)
                bad = await http.post(url, data="{", headers=headers)
                return forged.status, first.status, retry.status, bad.status, platform.calls
        finally:
            await platform.server.close()

    forged, first, retry, bad, calls = run(chat())
    assert forged == 401 and first == 200 and retry == 200 and bad == 400
    paths = [path for path, _, _ in calls]
    assert paths.count("/bot123:ABC/sendMessage") == 2, paths  # one /help reply (not two) and one greeting
    assert "/bot123:ABC/answerCallbackQuery" in paths
    help_reply = next(body for path, body, _ in calls if path.endswith("sendMessage"))
    assert help_reply["chat_id"] == 777 and help_reply["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == \
        "/order_status"


def delivery(message_id: str, text: str) -> bytes:
    return json.dumps({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages",
            "value": {"messaging_product": "whatsapp", "metadata": {"phone_number_id": "555"},
                      "messages": [{"from": "4915100000", "id": message_id, "type": "text",
                                    "text": {"body": text}}]}}]}]}).encode()


def test_whatsapp_handshake_signature_buttons_and_redelivery(serve) -> None:
    async def chat():
        platform = FakePlatform()
        await platform.server.start_server()
        try:
            options = {"whatsapp": {"verify_token": "verify-me", "app_secret": "app-secret", "access_token": "tok",
                                    "api_base": str(platform.server.make_url("")).rstrip("/")}}
            async with serve(**options) as server, aiohttp.ClientSession() as http:
                url = server.make_url("/webhooks/whatsapp")
                handshake = await http.get(url, params={"hub.mode": "subscribe", "hub.verify_token": "verify-me",
                                                        "hub.challenge": "42"})
                wrong = await http.get(url, params={"hub.mode": "subscribe", "hub.verify_token": "nope",
                                                    "hub.challenge": "42"})
                body = delivery("wamid.1", "/help")
                unsigned = await http.post(url, data=body, headers={"X-Hub-Signature-256": "sha256=00"})
                signed = {"X-Hub-Signature-256": signature("app-secret", body), "Content-Type": "application/json"}
                await http.post(url, data=body, headers=signed)
                await platform.wait_for(1)
                await http.post(url, data=body, headers=signed)  # Meta redelivers
                await asyncio.sleep(1.0)
                return (handshake.status, await handshake.text(), wrong.status, unsigned.status, platform.calls)
        finally:
            await platform.server.close()

    status, challenge, wrong, unsigned, calls = run(chat())
    assert (status, challenge, wrong, unsigned) == (200, "42", 403, 401)
    assert len(calls) == 1
    path, body, headers = calls[0]
    assert path == "/555/messages" and headers["Authorization"] == "Bearer tok"
    assert body["to"] == "4915100000" and body["type"] == "interactive"
    buttons = body["interactive"]["action"]["buttons"]
    assert len(buttons) == 3 and buttons[0]["reply"]["id"] == "/order_status" and len(buttons[0]["reply"]["title"]) <= 20
