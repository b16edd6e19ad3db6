"""Telegram: `POST /webhooks/telegram` receives Bot API `Update`s (checked with the secret-token header) and
replies through the Bot API (`sendMessage` with inline buttons, `sendPhoto` for product images).

The webhook answers 200 at once and runs the turn in the background, so Telegram never times out and retries;
a retried update is recognised by its id and gets no second reply.
"""

from __future__ import annotations

import hmac
import json
import logging
from functools import partial
from typing import Any

from aiohttp import web

from bot.channels.guard import ChannelGuard, error_response
from bot.channels.platform_client import PlatformClient
from bot.channels.turns import BackgroundTurns, run_turn
from bot.config import ServerSettings
from bot.engine import Engine
from bot.messages import Inbound, Outbound

log = logging.getLogger("shopbot.telegram")
CHANNEL = "telegram"


class TelegramChannel:
    def __init__(self, engine: Engine, guard: ChannelGuard, settings: ServerSettings):
        self.engine = engine
        self.guard = guard
        self.settings = settings.telegram
        self.public_url = settings.public_url.rstrip("/")
        self.client = PlatformClient()
        self.background = BackgroundTurns(CHANNEL)

    @property
    def api(self) -> str:
        return f"{self.settings.api_base.rstrip('/')}/bot{self.settings.token}"

    async def handle(self, request: web.Request) -> web.Response:
        if not self.settings.token:
            return error_response("not_configured", "Telegram is off", 404)
        offered = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if self.settings.secret_token and not hmac.compare_digest(offered.encode(), self.settings.secret_token.encode()):
            return error_response("unauthorized", "bad secret token", 401)
        try:
            update: Any = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return error_response("invalid_json", "not JSON", 400)
        parsed = parse_update(update)
        if parsed is None:
            return web.json_response({"ok": True, "ignored": True})  # edits, joins, stickers: nothing to answer
        chat_id, text, message_id, callback_id = parsed
        if callback_id:
            self.background.spawn(self.client.post_json(f"{self.api}/answerCallbackQuery",
                                                        {"callback_query_id": callback_id}))
        refusal = self.guard.check_message(text, f"{CHANNEL}:{chat_id}", f"{CHANNEL}:{chat_id}")
        if refusal is not None:
            self.background.spawn(self._send_text(chat_id, refusal.detail))
            return web.json_response({"ok": True})
        inbound = Inbound(str(chat_id), text, CHANNEL, message_id=message_id)
        self.background.spawn(run_turn(self.engine, inbound, partial(self.deliver, chat_id, metadata={})))
        return web.json_response({"ok": True})

    async def deliver(self, chat_id: int | str, event: Outbound, metadata: dict[str, Any]) -> None:
        """Send an event (the bot's or an agent's reply) to a chat."""
        for body in self.replies(event, chat_id):
            await self.client.post_json(f"{self.api}/{'sendPhoto' if 'photo' in body else 'sendMessage'}", body)

    def replies(self, event: Outbound, chat_id: int | str) -> list[dict[str, Any]]:
        """Bot API bodies for one outbound event."""
        if event.type not in ("message", "handoff", "error") or not (event.text or event.cards):
            return []
        bodies: list[dict[str, Any]] = []
        for card in event.cards[:4]:
            photo = self._absolute(card.get("image") or "")
            if photo.startswith("http"):
                bodies.append({"chat_id": chat_id, "photo": photo,
                               "caption": f"{card['title']} - ${card['price']:.2f}"})
        if event.text:
            body: dict[str, Any] = {"chat_id": chat_id, "text": event.text}
            if event.buttons:
                body["reply_markup"] = {"inline_keyboard": [[{"text": b["title"], "callback_data": b["payload"][:64]}]
                                                            for b in event.buttons]}
            bodies.insert(0, body)
        return bodies

    def _absolute(self, path: str) -> str:
        return path if path.startswith("http") or not self.public_url else f"{self.public_url}/{path.lstrip('/')}"

    async def _send_text(self, chat_id: int | str, text: str) -> None:
        await self.client.post_json(f"{self.api}/sendMessage", {"chat_id": chat_id, "text": text})

    async def close(self) -> None:
        await self.background.close()  # finish the turns in flight
        await self.client.close()


def parse_update(update: Any) -> tuple[int | str, str, str, str | None] | None:
    """(chat id, text, message id for de-duplication, callback query id) of a text message or a button press."""
    if not isinstance(update, dict):
        return None
    update_id = update.get("update_id")
    callback = update.get("callback_query")
    if isinstance(callback, dict) and isinstance(callback.get("data"), str):
        chat = ((callback.get("message") or {}).get("chat") or {}).get("id") or (callback.get("from") or {}).get("id")
        if chat is None:
            return None
        return chat, callback["data"], f"tg-{update_id}", str(callback.get("id"))
    message = update.get("message")
    if isinstance(message, dict) and isinstance(message.get("text"), str) and isinstance(message.get("chat"), dict):
        return message["chat"]["id"], message["text"], f"tg-{update_id}", None
    return None
