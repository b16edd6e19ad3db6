"""WhatsApp Cloud API: `GET /webhooks/whatsapp` answers the `hub.challenge` handshake; `POST` deliveries must carry
a valid `X-Hub-Signature-256` (HMAC-SHA256 of the body with the app secret). Replies go to the Graph API as text
or as reply buttons (at most 3). A redelivered message id gets no second reply."""

from __future__ import annotations

import hashlib
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

log = logging.getLogger("shopbot.whatsapp")
CHANNEL = "whatsapp"


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
        if (request.query.get("hub.mode") == "subscribe" and self.settings.verify_token
                and hmac.compare_digest(token.encode(), self.settings.verify_token.encode())):
            return web.Response(text=request.query.get("hub.challenge", ""))
        return error_response("forbidden", "verification failed", 403)

    async def handle(self, request: web.Request) -> web.Response:
        if not self.settings.app_secret:
            return error_response("not_configured", "WhatsApp is off", 404)
        body = await request.read()
        offered = request.headers.get("X-Hub-Signature-256", "")
        if not hmac.compare_digest(offered.encode(), signature(self.settings.app_secret, body).encode()):
            return error_response("unauthorized", "bad signature", 401)
        try:
            payload = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return error_response("invalid_json", "not JSON", 400)
        for phone_number_id, sender, text, message_id in incoming_messages(payload):
            refusal = self.guard.check_message(text, f"{CHANNEL}:{sender}", f"{CHANNEL}:{sender}")
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


def incoming_messages(payload: Any) -> list[tuple[str, str, str, str]]:
    """(phone number id, sender, text, message id) for each text message or button reply in a delivery."""
    found = []
    for entry in (payload or {}).get("entry") or [] if isinstance(payload, dict) else []:
        for change in entry.get("changes") or []:
            value = change.get("value") or {}
            phone_number_id = str((value.get("metadata") or {}).get("phone_number_id") or "")
            for message in value.get("messages") or []:
                text = None
                if message.get("type") == "text":
                    text = (message.get("text") or {}).get("body")
                elif message.get("type") == "interactive":
                    reply = (message.get("interactive") or {}).get("button_reply") or {}
                    text = reply.get("id") or reply.get("title")
                if isinstance(text, str) and message.get("from") and phone_number_id:
                    found.append((phone_number_id, str(message["from"]), text, f"wa-{message.get('id')}"))
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
