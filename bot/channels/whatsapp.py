"""WhatsApp Cloud API: `GET /webhooks/whatsapp` answers the `hub.challenge` handshake; `POST` deliveries must carry
a valid `X-Hub-Signature-256` (HMAC-SHA256 of the body with the app secret). Replies go to the Graph API as text
or as reply buttons (at most 3). A redelivered message id gets no second reply.

A verify or access token without the app secret is refused at start (`check_settings`) and by the webhook: without
the secret, unsigned deliveries could not be told from Meta's. A body that is not a delivery gets 400 (Meta does
not retry 4xx); a delivery with nothing to answer (status receipts, reactions) gets 200 `{"ignored": true}`."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from functools import partial
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StrictStr, model_validator

from bot.channels.guard import ChannelGuard, error_response, valid_unicode
from bot.channels.platform_client import PlatformClient, parse_platform_body
from bot.channels.turns import BackgroundTurns, run_turn
from bot.config import ConfigError, ServerSettings, WhatsAppSettings
from bot.engine import Engine
from bot.messages import Inbound, Outbound

log = logging.getLogger("shopbot.whatsapp")
CHANNEL = "whatsapp"


def settings_problem(settings: WhatsAppSettings) -> str | None:
    """Why these WhatsApp settings must not serve (None when they may)."""
    named = [name for name in ("verify_token", "access_token") if getattr(settings, name)]
    if named and not settings.app_secret:
        return (f"server.whatsapp.{' and '.join(named)} set but server.whatsapp.app_secret is empty: set "
                "server.whatsapp.app_secret (SHOPBOT_WHATSAPP_APP_SECRET), the app secret Meta signs deliveries "
                "with; without it unsigned deliveries cannot be told from Meta's")
    return None


def check_settings(settings: WhatsAppSettings) -> None:
    """Raise ConfigError when WhatsApp is configured without the app secret that signs deliveries."""
    problem = settings_problem(settings)
    if problem is not None:
        raise ConfigError(problem)


def signature(secret: str, body: bytes) -> str:
    """The `X-Hub-Signature-256` value Meta sends for `body`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WhatsAppChannel:
    def __init__(self, engine: Engine, guard: ChannelGuard, settings: ServerSettings):
        self.engine = engine
        self.guard = guard
        self.settings = settings.whatsapp
        self.client = PlatformClient()
        self.background = BackgroundTurns(CHANNEL)

    async def verify(self, request: web.Request) -> web.Response:
        """The subscription handshake: echo `hub.challenge` when `hub.verify_token` is ours."""
        token = request.query.get("hub.verify_token", "")
        if (request.query.get("hub.mode") == "subscribe" and self.settings.verify_token and self.settings.app_secret
                and hmac.compare_digest(token.encode("utf-8", "surrogatepass"),
                                                      self.settings.verify_token.encode())):
            return web.Response(text=request.query.get("hub.challenge", ""))
        return error_response("forbidden", "verification failed", 403)

    async def handle(self, request: web.Request) -> web.Response:
        if not self.settings.app_secret:
            if self.settings.verify_token or self.settings.access_token:  # check_settings refuses to start like this
                return error_response("unauthorized", "no app secret is configured; deliveries are refused", 401)
            return error_response("not_configured", "WhatsApp is off", 404)
        body = await request.read()
        offered = request.headers.get("X-Hub-Signature-256", "")
        if not hmac.compare_digest(offered.encode("utf-8", "surrogatepass"),
                                   signature(self.settings.app_secret, body).encode()):
            return error_response("unauthorized", "bad signature", 401)
        try:
            payload = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return error_response("invalid_json", "not JSON", 400)
        try:
            found = incoming_messages(payload)
        except ValueError as exc:
            return error_response("invalid_delivery", str(exc), 400)
        if not found:
            return web.json_response({"ok": True, "ignored": True})  # status receipts, reactions, media
        for phone_number_id, sender, text, message_id in found:
            refusal = await self.guard.check_message(text, f"{CHANNEL}:{sender}", f"{CHANNEL}:{sender}")
            if refusal is not None:
                self.background.spawn(self._send(phone_number_id, {"to": sender, "type": "text",
                                                         "text": {"body": refusal.detail}}))
                continue
            inbound = Inbound(sender, text, CHANNEL, metadata={"phone_number_id": phone_number_id},
                              message_id=message_id)
            self.background.spawn(run_turn(self.engine, inbound,
                                           partial(self.deliver, sender, metadata=inbound.metadata)))
        return web.json_response({"ok": True})

    async def deliver(self, sender: str, event: Outbound, metadata: dict[str, Any]) -> None:
        """Send an event (the bot's or an agent's reply) to a shopper, through the number they last wrote to."""
        phone_number_id = str(metadata.get("phone_number_id") or "")
        for message in replies(event, sender) if phone_number_id else []:
            await self._send(phone_number_id, message)

    async def _send(self, phone_number_id: str, message: dict[str, Any]) -> None:
        await self.client.post_json(f"{self.settings.api_base.rstrip('/')}/{phone_number_id}/messages",
                                    {"messaging_product": "whatsapp", **message},
                                    {"Authorization": f"Bearer {self.settings.access_token}"})

    async def close(self) -> None:
        await self.background.close()  # finish the turns in flight
        await self.client.close()


class _Part(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class Text(_Part):
    body: StrictStr


class Reply(_Part):
    id: StrictStr | None = None
    title: StrictStr | None = None


class Interactive(_Part):
    button_reply: Reply | None = None
    list_reply: Reply | None = None


class Incoming(_Part):
    from_: StrictStr = Field(alias="from", min_length=1, max_length=64)
    id: StrictStr = Field(min_length=1, max_length=256)
    type: StrictStr
    text: Text | None = None
    interactive: Interactive | None = None

    def content(self) -> str | None:
        """The text, or the pressed button's id (its title when it has none); None for media and the like."""
        if self.type == "text" and self.text is not None:
            return self.text.body
        if self.type == "interactive" and self.interactive is not None:
            reply = self.interactive.button_reply or self.interactive.list_reply
            return (reply.id or reply.title) if reply is not None else None
        return None


class Metadata(_Part):
    phone_number_id: StrictStr = Field(min_length=1, max_length=64)


class Value(_Part):
    metadata: Metadata | None = None
    messages: list[Incoming] = Field(default_factory=list)

    @model_validator(mode="after")
    def _replyable(self) -> "Value":
        if self.messages and self.metadata is None:
            raise ValueError("messages without metadata.phone_number_id")
        return self


class Change(_Part):
    value: Value


class Entry(_Part):
    changes: list[Change] = Field(default_factory=list)


class Delivery(_Part):
    """The parts of a Cloud API webhook delivery the bot answers; everything else in it is ignored."""

    entry: list[Entry]


def incoming_messages(payload: Any) -> list[tuple[str, str, str, str]]:
    """(phone number id, sender, text, message id) for each text message or button reply in a delivery.
    Raises ValueError for a body that is not a delivery."""
    delivery = parse_platform_body(Delivery, payload, "a WhatsApp delivery")
    found = []
    for entry in delivery.entry:
        for change in entry.changes:
            value = change.value
            for message in value.messages:
                text = message.content()
                if value.metadata is None or text is None:
                    continue
                if not (valid_unicode(message.from_) and valid_unicode(message.id)
                        and valid_unicode(value.metadata.phone_number_id)):
                    raise ValueError("not a WhatsApp delivery: an id is not valid Unicode")
                found.append((value.metadata.phone_number_id, message.from_, text, f"wa-{message.id}"))
    return found


def replies(event: Outbound, to: str) -> list[dict[str, Any]]:
    """Graph API message bodies for one outbound event (buttons as reply buttons, at most 3, titles <= 20 chars)."""
    if event.type not in ("message", "handoff", "error") or not event.text:
        return []
    if event.buttons:
        buttons = [{"type": "reply", "reply": {"id": b["payload"][:256], "title": b["title"][:20]}}
                   for b in event.buttons[:3]]
        return [{"to": to, "type": "interactive", "interactive": {"type": "button", "body": {"text": event.text[:1024]},
                                                                  "action": {"buttons": buttons}}}]
    text = event.text
    if event.cards:
        text += "\n" + "\n".join(f"- {c['title']}: ${c['price']:.2f} {c.get('link') or ''}".rstrip()
                                 for c in event.cards[:4])
    return [{"to": to, "type": "text", "text": {"body": text[:4096]}}]
