"""Rasa's socket.io channel, so the `rasa-webchat` widget (and any Rasa socket.io client) works unchanged:
`session_request` -> `session_confirm`; `user_uttered {message, session_id, customData|metadata}` -> `bot_uttered`
messages (`{text}`, `{text, quick_replies}`, `{attachment: {type: image, payload: {src}}}`, `{custom}`)."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import socketio
from aiohttp import web

from bot import metrics
from bot.channels.guard import ChannelGuard
from bot.channels.rasa_format import socketio_messages
from bot.channels.turns import run_turn
from bot.channels.websocket import SESSION_ID
from bot.engine import Engine
from bot.messages import Inbound, Outbound

log = logging.getLogger("shopbot.socketio")
CHANNEL = "socketio"


class SocketIOChannel:
    """A python-socketio server on the aiohttp app at `/socket.io/`."""

    def __init__(self, engine: Engine, guard: ChannelGuard):
        self.engine = engine
        self.guard = guard
        origins: Any = guard.settings.cors_origins or []
        self.sio = socketio.AsyncServer(async_mode="aiohttp", cors_allowed_origins=origins or None,
                                        max_http_buffer_size=max(65536, guard.settings.max_message_chars * 8))
        self.sio.on("connect", self.connect)
        self.sio.on("disconnect", self.disconnect)
        self.sio.on("session_request", self.session_request)
        self.sio.on("user_uttered", self.user_uttered)
        self.sessions: dict[str, str] = {}   # socket id -> conversation session id
        self.ips: dict[str, str] = {}

    def attach(self, app: web.Application) -> None:
        self.sio.attach(app, socketio_path="socket.io")

    async def connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> bool:
        request: web.Request = environ["aiohttp.request"]
        offered = (auth or {}).get("token") if isinstance(auth, dict) else None
        if not self.guard.token_ok(offered or self.guard.request_token(request)):
            return False
        if len(self.sessions) >= self.guard.settings.max_connections:
            return False
        self.ips[sid] = request.remote or "unknown"
        metrics.CONNECTIONS.labels(CHANNEL).inc()
        return True

    async def disconnect(self, sid: str, *_: Any) -> None:
        self.sessions.pop(sid, None)
        if self.ips.pop(sid, None) is not None:
            metrics.CONNECTIONS.labels(CHANNEL).dec()

    async def session_request(self, sid: str, data: Any = None) -> None:
        asked = data.get("session_id") if isinstance(data, dict) else None
        session_id = asked if isinstance(asked, str) and SESSION_ID.match(asked) else uuid.uuid4().hex
        self.sessions[sid] = session_id
        await self.sio.emit("session_confirm", session_id, room=sid)

    async def user_uttered(self, sid: str, data: Any = None) -> None:
        if not isinstance(data, dict):
            await self._error(sid, "invalid_message", "send {message, session_id}")
            return
        session_id = self.sessions.get(sid) or (data.get("session_id") if isinstance(data.get("session_id"), str)
                                                and SESSION_ID.match(data["session_id"]) else None)
        if session_id is None:
            await self._error(sid, "no_session", "send session_request first")
            return
        text = data.get("message")
        refusal = self.guard.check_message(text, f"{CHANNEL}:{session_id}", self.ips.get(sid, "unknown"))
        if refusal is not None:
            await self._error(sid, refusal.code, refusal.detail)
            return
        metadata = data.get("customData") or data.get("metadata") or {}
        message_id = str(metadata.get("message_id") or "") or None if isinstance(metadata, dict) else None
        inbound = Inbound(session_id, str(text), CHANNEL, message_id=message_id)

        async def emit(event: Outbound) -> None:
            if event.type == "error":
                await self._error(sid, event.code or "error", event.text)
            for message in socketio_messages(event):
                await self.sio.emit("bot_uttered", message, room=sid)

        await run_turn(self.engine, inbound, emit)

    async def deliver(self, session_id: str, event: Outbound, metadata: dict[str, Any]) -> None:
        """Push an event to every socket of the session."""
        for sid, session in list(self.sessions.items()):
            if session == session_id:
                for message in socketio_messages(event):
                    await self.sio.emit("bot_uttered", message, room=sid)

    async def _error(self, sid: str, code: str, detail: str) -> None:
        metrics.ERRORS.labels(CHANNEL, code).inc()
        await self.sio.emit("bot_uttered", {"text": detail, "custom": {"error": code}}, room=sid)
