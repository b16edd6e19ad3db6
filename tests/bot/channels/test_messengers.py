"""Telegram and WhatsApp webhooks on a real server, replying to a local fake of each platform's API (the only fake:
the platforms' own servers are outside)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from click.testing import CliRunner

from bot.channels.guard import ChannelGuard
from bot.channels.telegram import TelegramChannel
from bot.channels.telegram import check_settings as check_telegram
from bot.channels.whatsapp import WhatsAppChannel, signature
from bot.cli import main
from bot.config import ConfigError, ServerSettings, TelegramSettings, WhatsAppSettings
from tests.bot.channels.conftest import run
from tests.support import running_app


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


SECRET = {"X-Telegram-Bot-Api-Secret-Token": "hook-secret"}


@asynccontextmanager
async def telegram_bot(serve, **telegram) -> AsyncIterator[tuple[TestServer, FakePlatform]]:
    """A running server with Telegram on (secret `hook-secret`) and the fake Bot API it replies to."""
    platform = FakePlatform()
    await platform.server.start_server()
    try:
        options = {"token": "123:ABC", "secret_token": "hook-secret",
                   "api_base": str(platform.server.make_url("")).rstrip("/"), **telegram}
        async with serve(telegram=options) as server:
            yield server, platform
    finally:
        await platform.server.close()


def test_a_telegram_token_without_a_secret_refuses_to_start(serve) -> None:
    async def start():
        async with serve(telegram={"token": "123:ABC"}):
            pass

    with pytest.raises(ConfigError, match=r"server\.telegram\.secret_token \(SHOPBOT_TELEGRAM_SECRET\)"):
        run(start())
    with pytest.raises(ConfigError, match="A-Z, a-z, 0-9"):
        check_telegram(TelegramSettings(token="123:ABC", secret_token="has spaces"))


def test_shopbot_serve_refuses_a_telegram_token_without_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPBOT_TELEGRAM_TOKEN", "123:ABC")
    monkeypatch.delenv("SHOPBOT_TELEGRAM_SECRET", raising=False)
    monkeypatch.setenv("SHOPBOT_KB", "/nonexistent")  # were the check missing, serving would fail here, not hang
    result = CliRunner().invoke(main, ["serve", "--port", "0"])
    assert result.exit_code == 2 and "SHOPBOT_TELEGRAM_SECRET" in result.output, result.output


def test_a_telegram_webhook_without_a_secret_refuses_every_update(make_engine) -> None:
    """The second line of defence: a channel built around the start-up check still accepts nothing unchecked."""

    async def forge():
        platform = FakePlatform()
        await platform.server.start_server()
        settings = ServerSettings(telegram=TelegramSettings(token="123:ABC",
                                                            api_base=str(platform.server.make_url("")).rstrip("/")))
        channel = TelegramChannel(make_engine(), ChannelGuard(settings), settings)
        app = web.Application()
        app.router.add_post("/webhooks/telegram", channel.handle)
        try:
            async with running_app(app) as server, aiohttp.ClientSession() as http:
                forged = await http.post(server.make_url("/webhooks/telegram"), json=update(1, "/help"))
                guessed = await http.post(server.make_url("/webhooks/telegram"), json=update(2, "/help"),
                                          headers={"X-Telegram-Bot-Api-Secret-Token": ""})
                await channel.close()
                return forged.status, guessed.status, platform.calls
        finally:
            await platform.server.close()

    assert run(forge()) == (401, 401, [])


def test_malformed_telegram_updates_get_400_and_nothing_to_answer_gets_200(serve) -> None:
    malformed = [[], {"update_id": "1"}, {"update_id": 5, "message": {"message_id": 1, "chat": {}, "text": "hi"}},
                 {"update_id": 6, "message": {"chat": {"id": 1}, "text": "hi"}},
                 {"update_id": 7, "message": {"message_id": 1, "chat": {"id": [1]}, "text": "hi"}},
                 {"update_id": 8, "callback_query": {"id": "c", "data": "/help", "from": {"id": 1}, "message": "x"}},
                 {"update_id": 9, "message": {"message_id": 1, "chat": {"id": 1}, "text": 5}}]
    nothing = [{"update_id": 20, "edited_message": {"message_id": 1, "chat": {"id": 1}, "text": "hi"}},
               {"update_id": 21, "message": {"message_id": 2, "chat": {"id": 1}, "sticker": {"file_id": "x"}}},
               {"update_id": 22, "my_chat_member": {"chat": {"id": 1}}}]

    async def post():
        async with telegram_bot(serve) as (server, platform), aiohttp.ClientSession() as http:
            out = []
            for body in malformed + nothing:
                response = await http.post(server.make_url("/webhooks/telegram"), json=body, headers=SECRET)
                out.append((response.status, await response.json()))
            return out, platform.calls

    answers, calls = run(post())
    bad, ignored = answers[:len(malformed)], answers[len(malformed):]
    assert all(status == 400 and body["code"] == "invalid_update" for status, body in bad), bad
    assert all(status == 200 and body["ignored"] is True for status, body in ignored), ignored
    assert calls == []


def test_telegram_updates_without_an_update_id_are_answered_once_each(serve) -> None:
    async def post():
        async with telegram_bot(serve) as (server, platform), aiohttp.ClientSession() as http:
            url = server.make_url("/webhooks/telegram")
            for message_id, text in ((1, "/help"), (2, "/greet")):
                body = update(message_id, text)
                del body["update_id"]
                assert (await http.post(url, json=body, headers=SECRET)).status == 200
                await platform.wait_for(message_id)
            retried = update(2, "/greet")
            del retried["update_id"]
            await http.post(url, json=retried, headers=SECRET)  # the same message again: no second reply
            await asyncio.sleep(0.5)
            return [body["text"] for path, body, _ in platform.calls]

    texts = run(post())
    assert len(texts) == 2 and texts[0] != texts[1], texts


def test_a_lone_surrogate_from_telegram_gets_a_clear_reply(serve) -> None:
    async def post():
        async with telegram_bot(serve) as (server, platform), aiohttp.ClientSession() as http:
            body = json.dumps(update(1, "hi")).replace('"hi"', '"hi \\ud800"')
            response = await http.post(server.make_url("/webhooks/telegram"), data=body,
                                       headers={**SECRET, "Content-Type": "application/json"})
            await platform.wait_for(1)
            return response.status, platform.calls

    status, calls = run(post())
    assert status == 200 and "Unicode" in calls[0][1]["text"], calls


def test_a_replayed_telegram_restart_is_answered_once(serve) -> None:
    async def post():
        async with telegram_bot(serve) as (server, platform), aiohttp.ClientSession() as http:
            for _ in range(3):  # Telegram (or an attacker holding the secret) replays the same update
                await http.post(server.make_url("/webhooks/telegram"), json=update(40, "/restart"), headers=SECRET)
                await platform.wait_for(1)
            await asyncio.sleep(1.0)
            return [path for path, _, _ in platform.calls]

    paths = run(post())
    assert paths.count("/bot123:ABC/sendMessage") == 1, paths


def test_whatsapp_without_an_app_secret_refuses_to_start_and_refuses_deliveries(serve, make_engine) -> None:
    async def start():
        async with serve(whatsapp={"verify_token": "verify-me", "access_token": "tok"}):
            pass

    with pytest.raises(ConfigError, match=r"server\.whatsapp\.app_secret \(SHOPBOT_WHATSAPP_APP_SECRET\)"):
        run(start())

    async def forge():
        settings = ServerSettings(whatsapp=WhatsAppSettings(verify_token="verify-me", access_token="tok"))
        channel = WhatsAppChannel(make_engine(), ChannelGuard(settings), settings)
        app = web.Application()
        app.router.add_get("/webhooks/whatsapp", channel.verify)
        app.router.add_post("/webhooks/whatsapp", channel.handle)
        server = TestServer(app)
        await server.start_server()
        try:
            async with aiohttp.ClientSession() as http:
                url = server.make_url("/webhooks/whatsapp")
                handshake = await http.get(url, params={"hub.mode": "subscribe", "hub.verify_token": "verify-me",
                                                        "hub.challenge": "42"})
                unsigned = await http.post(url, data=delivery("wamid.1", "/help"))
                await channel.close()
                return handshake.status, unsigned.status
        finally:
            await server.close()

    assert run(forge()) == (403, 401)


def test_malformed_whatsapp_deliveries_get_400_and_receipts_get_200(serve) -> None:
    malformed = [[], {"entry": "x"}, {"entry": [{"changes": [{"value": {"metadata": {"phone_number_id": "555"},
                                                                        "messages": ["x"]}}]}]},
                 {"entry": [{"changes": [{"value": {"messages": [{"from": "49", "id": "w1", "type": "text",
                                                                  "text": {"body": "hi"}}]}}]}]},
                 {"entry": [{"changes": [{"value": {"metadata": {"phone_number_id": "555"},
                                                    "messages": [{"from": "49", "type": "text",
                                                                  "text": {"body": "hi"}}]}}]}]}]
    receipt = {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages",
               "value": {"messaging_product": "whatsapp", "metadata": {"phone_number_id": "555"},
                         "statuses": [{"id": "wamid.9", "status": "delivered", "recipient_id": "49"}]}}]}]}

    async def post():
        platform = FakePlatform()
        await platform.server.start_server()
        try:
            options = {"verify_token": "v", "app_secret": "app-secret", "access_token": "tok",
                       "api_base": str(platform.server.make_url("")).rstrip("/")}
            async with serve(whatsapp=options) as server, aiohttp.ClientSession() as http:
                out = []
                for payload in [*malformed, receipt]:
                    body = json.dumps(payload).encode()
                    response = await http.post(server.make_url("/webhooks/whatsapp"), data=body, headers={
                        "X-Hub-Signature-256": signature("app-secret", body), "Content-Type": "application/json"})
                    out.append((response.status, await response.json()))
                return out, platform.calls
        finally:
            await platform.server.close()

    answers, calls = run(post())
    assert all(status == 400 and body["code"] == "invalid_delivery" for status, body in answers[:-1]), answers
    assert answers[-1][0] == 200 and answers[-1][1]["ignored"] is True and calls == []
