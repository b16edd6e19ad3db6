"""Telegram: `POST /webhooks/telegram` receives Bot API `Update`s (checked with the secret-token header) and
replies through the Bot API (`sendMessage` with inline buttons, `sendPhoto` for product images).

A bot token without a secret token is refused at start (`check_settings`) and by the webhook: without the secret,
anyone who learns the webhook's address could post forged updates in a shopper's name.

The webhook answers 200 at once and runs the turn in the background, so Telegram never times out and retries;
a retried update is recognised by its message (chat and message id, or the button press's id) and gets no second
reply. A body that is not an `Update` gets 400 (Telegram does not retry 4xx); an update with nothing to answer
(an edit, a sticker, a member change) gets 200 `{"ignored": true}`.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
from functools import partial
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from bot.channels.guard import ChannelGuard, error_response, valid_unicode
from bot.channels.platform_client import PlatformClient, parse_platform_body
from bot.channels.turns import BackgroundTurns, run_turn
from bot.config import ConfigError, ServerSettings, TelegramSettings
from bot.engine import Engine
from bot.messages import Inbound, Outbound

log = logging.getLogger("shopbot.telegram")
CHANNEL = "telegram"
SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")  # what setWebhook accepts as `secret_token`


def settings_problem(settings: TelegramSettings) -> str | None:
    """Why these Telegram settings must not serve (None when they may)."""
    if not settings.token:
        return None
    if not settings.secret_token:
        return ("server.telegram.token is set but server.telegram.secret_token is empty: set "
                "server.telegram.secret_token (SHOPBOT_TELEGRAM_SECRET) and pass the same value as `secret_token` "
                "to setWebhook; without it anyone who finds the webhook URL can post forged updates")
    if not SECRET_TOKEN.fullmatch(settings.secret_token):
        return "server.telegram.secret_token must be 1-256 characters of A-Z, a-z, 0-9, _ and - (setWebhook's rule)"
    return None


def check_settings(settings: TelegramSettings) -> None:
    """Raise ConfigError when a bot token is set without a usable secret token."""
    problem = settings_problem(settings)
    if problem is not None:
        raise ConfigError(problem)


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
        if not self.settings.secret_token:  # check_settings refuses to start like this; never accept unchecked
            return error_response("unauthorized", "no secret token is configured; updates are refused", 401)
        offered = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not hmac.compare_digest(offered.encode("utf-8", "surrogatepass"), self.settings.secret_token.encode()):
            return error_response("unauthorized", "bad secret token", 401)
        try:
            update: Any = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return error_response("invalid_json", "not JSON", 400)
        try:
            parsed = parse_update(update)
        except ValueError as exc:
            return error_response("invalid_update", str(exc), 400)
        if parsed is None:
            return web.json_response({"ok": True, "ignored": True})  # edits, joins, stickers: nothing to answer
        chat_id, text, message_id, callback_id = parsed
        if callback_id:
            self.background.spawn(self.client.post_json(f"{self.api}/answerCallbackQuery",
                                                        {"callback_query_id": callback_id}))
        refusal = await self.guard.check_message(text, f"{CHANNEL}:{chat_id}", f"{CHANNEL}:{chat_id}")
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


class _Part(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class Chat(_Part):
    id: StrictInt


class User(_Part):
    id: StrictInt


class Message(_Part):
    message_id: StrictInt
    chat: Chat
    text: StrictStr | None = None


class ButtonMessage(_Part):
    """The message a pressed button belongs to (possibly one the bot can no longer read): only its chat counts."""

    chat: Chat


class CallbackQuery(_Part):
    id: StrictStr = Field(min_length=1, max_length=128)
    from_: User = Field(alias="from")
    message: ButtonMessage | None = None
    data: StrictStr | None = None


class Update(_Part):
    """The parts of a Bot API `Update` the bot answers; everything else in it is ignored."""

    update_id: StrictInt | None = None
    message: Message | None = None
    callback_query: CallbackQuery | None = None


def parse_update(update: Any) -> tuple[int, str, str, str | None] | None:
    """(chat id, text, message id for de-duplication, callback query id) of a text message or a button press;
    None for an update with nothing to answer. Raises ValueError for a body that is not an `Update`.

    The de-duplication id names the message itself (chat and message id, or the button press's id), so a retried
    update matches its first delivery and two different updates never share one, whatever their `update_id`."""
    parsed = parse_platform_body(Update, update, "a Telegram Update")
    callback = parsed.callback_query
    if callback is not None and callback.data is not None:
        chat = callback.message.chat.id if callback.message is not None else callback.from_.id
        if not valid_unicode(callback.id):
            raise ValueError("not a Telegram Update: callback_query.id is not valid Unicode")
        return chat, callback.data, f"tg-cb-{callback.id}", callback.id
    message = parsed.message
    if message is not None and message.text is not None:
        return message.chat.id, message.text, f"tg-{message.chat.id}-{message.message_id}", None
    return None
