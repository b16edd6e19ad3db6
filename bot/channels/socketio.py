"""Rasa's socket.io channel, so the `rasa-webchat` widget (and any Rasa socket.io client) works unchanged:
`session_request` -> `session_confirm`; `user_uttered {message, session_id, customData|metadata}` -> `bot_uttered`
messages (`{text}`, `{text, quick_replies}`, `{attachment: {type: image, payload: {src}}}`, `{custom}`).

Session ids are issued by the server and self-authenticating (`bot.channels.sessions`): rasa-webchat sends back the
id it stored, and only an id this server issued resumes; any other gets a fresh one in `session_confirm` (which
rasa-webchat adopts). Every connected socket counts against `server.max_connections` and
`server.max_connections_per_ip`; one that sends no event within `first_message_timeout_s` (or none for
`idle_timeout_s` later) is disconnected."""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass, field
from typing import Any

import socketio
from aiohttp import web

from bot import metrics
from bot.channels.connections import ConnectionSlots
from bot.channels.guard import ChannelGuard, client_ip
from bot.channels.rasa_format import socketio_messages
from bot.channels.sessions import SessionIds
from bot.channels.turns import run_turn_or_report
from bot.engine import Engine
from bot.messages import Inbound, Outbound

log = logging.getLogger("shopbot.socketio")
CHANNEL = "socketio"


def session_room(session_id: str) -> str:
    """The socket.io room of a conversation session: every socket that joined it."""
    return f"session:{session_id}"


@dataclass
class Client:
    """One connected socket: its address, when it connected, when it last sent an event, its watchdog."""

    address: str
    connected_at: float
    last_event: float | None = None
    watchdog: asyncio.Task | None = field(default=None, repr=False)


class SocketIOChannel:
    """A python-socketio server on the aiohttp app at `/socket.io/`."""

    def __init__(self, engine: Engine, guard: ChannelGuard, client_manager: Any = None,
                 sessions: SessionIds | None = None, slots: ConnectionSlots | None = None):
        self.engine = engine
        self.guard = guard
        settings = guard.settings
        self.ids = sessions or SessionIds(secrets.token_bytes(32))
        self.slots = slots or ConnectionSlots(settings.max_connections, settings.max_connections_per_ip)
        # client_manager: socketio.AsyncRedisManager with several replicas (bot.channels.fanout.socketio_manager)
        self.sio = socketio.AsyncServer(async_mode="aiohttp", cors_allowed_origins=self._origin_allowed,
                                        max_http_buffer_size=max(65536, settings.max_message_chars * 8),
                                        client_manager=client_manager)
        self.sio.on("connect", self.connect)
        self.sio.on("disconnect", self.disconnect)
        self.sio.on("session_request", self.session_request)
        self.sio.on("user_uttered", self.user_uttered)
        self.sessions: dict[str, str] = {}   # socket id -> conversation session id
        self.clients: dict[str, Client] = {}

    def _origin_allowed(self, origin: str | None, environ: dict[str, Any] | None = None) -> bool:
        """engine.io's origin check (it also asks, with None, when a request has no `Origin`: no CORS header)."""
        return isinstance(origin, str) and self.guard.engineio_origin(origin, environ)

    def attach(self, app: web.Application) -> None:
        self.sio.attach(app, socketio_path="socket.io")

    async def connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> bool:
        """Every socket is counted here, before it asks for a session; refusals carry `{code}` as their data."""
        request: web.Request = environ["aiohttp.request"]
        offered = (auth or {}).get("token") if isinstance(auth, dict) else None
        if not self.guard.token_ok(offered or self.guard.request_token(request)):
            raise socketio.exceptions.ConnectionRefusedError("a valid token is required", {"code": "unauthorized"})
        address = client_ip(request)
        refusal = self.slots.take(address)
        if refusal is not None:
            metrics.ERRORS.labels(CHANNEL, refusal.code).inc()
            raise socketio.exceptions.ConnectionRefusedError(refusal.detail, {"code": refusal.code})
        client = Client(address, asyncio.get_running_loop().time())
        self.clients[sid] = client
        client.watchdog = asyncio.create_task(self._watch(sid, client))
        metrics.CONNECTIONS.labels(CHANNEL).inc()
        return True

    async def disconnect(self, sid: str, *_: Any) -> None:
        self.sessions.pop(sid, None)
        client = self.clients.pop(sid, None)
        if client is None:
            return
        self.slots.release(client.address)
        metrics.CONNECTIONS.labels(CHANNEL).dec()
        if client.watchdog is not None and client.watchdog is not asyncio.current_task():
            client.watchdog.cancel()

    async def _watch(self, sid: str, client: Client) -> None:
        """Disconnect a socket that sent nothing within `first_message_timeout_s`, or nothing for `idle_timeout_s`."""
        loop = asyncio.get_running_loop()
        settings = self.guard.settings
        while sid in self.clients:
            if client.last_event is None:
                deadline = client.connected_at + min(settings.first_message_timeout_s, settings.idle_timeout_s)
            else:
                deadline = client.last_event + settings.idle_timeout_s
            if loop.time() >= deadline:
                log.info("socket.io socket closed: %s", "no event" if client.last_event is None else "idle")
                await self.sio.disconnect(sid)
                return
            await asyncio.sleep(deadline - loop.time())

    def _heard(self, sid: str) -> None:
        client = self.clients.get(sid)
        if client is not None:
            client.last_event = asyncio.get_running_loop().time()

    async def _bind(self, sid: str, session_id: str) -> None:
        previous = self.sessions.get(sid)
        if previous is not None and previous != session_id:
            await self.sio.leave_room(sid, session_room(previous))
        self.sessions[sid] = session_id
        await self.sio.enter_room(sid, session_room(session_id))  # deliveries reach it from any replica

    async def session_request(self, sid: str, data: Any = None) -> None:
        """Resume the stored id only if this server issued it; otherwise confirm a new one."""
        self._heard(sid)
        asked = data.get("session_id") if isinstance(data, dict) else None
        session_id = asked if self.ids.issued(CHANNEL, asked) else self.ids.issue(CHANNEL)
        if asked and session_id != asked:
            metrics.ERRORS.labels(CHANNEL, "invalid_session").inc()
        await self._bind(sid, session_id)
        await self.sio.emit("session_confirm", session_id, room=sid)

    async def user_uttered(self, sid: str, data: Any = None) -> None:
        self._heard(sid)
        if not isinstance(data, dict):
            await self._error(sid, "invalid_message", "send {message, session_id}")
            return
        session_id = self.sessions.get(sid)
        if session_id is None and self.ids.issued(CHANNEL, data.get("session_id")):
            session_id = data["session_id"]   # a client that skipped session_request, with an id we issued
            await self._bind(sid, session_id)
        if session_id is None:
            await self._error(sid, "no_session", "send session_request first")
            return
        text = data.get("message")
        client = self.clients.get(sid)
        refusal = await self.guard.check_message(text, f"{CHANNEL}:{session_id}", client.address if client else "unknown")
        if refusal is not None:
            await self._error(sid, refusal.code, refusal.detail)
            return
        metadata = data.get("customData") or data.get("metadata") or {}
        message_id = (str(metadata.get("message_id") or "")[:200] or None) if isinstance(metadata, dict) else None
        inbound = Inbound(session_id, str(text), CHANNEL, message_id=message_id,
                          metadata={"ip": client.address} if client else {})

        async def emit(event: Outbound) -> None:
            if event.type == "error":
                await self._error(sid, event.code or "error", event.text)
            for message in socketio_messages(event):
                await self.sio.emit("bot_uttered", message, room=sid)

        async def report(code: str, detail: str) -> None:
            await self._error(sid, code, detail)

        await run_turn_or_report(self.engine, inbound, emit, report)

    async def deliver(self, session_id: str, event: Outbound, metadata: dict[str, Any]) -> None:
        """Push an event to every socket of the session, on whichever replica it is connected."""
        for message in socketio_messages(event):
            await self.sio.emit("bot_uttered", message, room=session_room(session_id))

    async def close(self, timeout_s: float = 5.0) -> None:
        """Disconnect every client (shutdown). engine.io's own `disconnect()` waits for each socket's send queue,
        which never drains for a client whose transport is already gone, so sockets are closed without waiting."""
        for client in self.clients.values():
            if client.watchdog is not None:
                client.watchdog.cancel()
        sockets = list(self.sio.eio.sockets.values())
        if sockets:
            await asyncio.wait([asyncio.create_task(socket.close(wait=False)) for socket in sockets], timeout=timeout_s)
        self.sio.eio.sockets.clear()

    async def _error(self, sid: str, code: str, detail: str) -> None:
        metrics.ERRORS.labels(CHANNEL, code).inc()
        try:
            await self.sio.emit("bot_uttered", {"text": detail, "custom": {"error": code}}, room=sid)
        except Exception as exc:  # noqa: BLE001 - the client is gone
            log.info("socket.io error not delivered: %s", type(exc).__name__)
