"""Our own websocket protocol at `/ws` (see docs/protocol.md): streamed chunks, messages with buttons, cards and
sources, handoff notices and errors; sessions resume by id; a bad frame gets an `error` and the socket stays open."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import uuid
from typing import Any

from aiohttp import WSMsgType, web

from bot import metrics
from bot.channels.guard import ChannelGuard, Refusal, client_ip, error_response
from bot.channels.turns import run_turn
from bot.engine import Engine
from bot.messages import Inbound, Outbound

log = logging.getLogger("shopbot.ws")
CHANNEL = "web"
SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
HISTORY_MESSAGES = 30


def event_json(event: Outbound, message_id: str | None) -> dict[str, Any]:
    """An outbound event in the /ws wire format (`error` carries `code` and `detail`)."""
    if event.type == "error":
        return {"type": "error", "code": event.code or "error", "detail": event.text, "message_id": message_id}
    body = event.to_dict()
    if message_id:
        body["message_id"] = message_id
    return body


class WebsocketChannel:
    """Serves `/ws`; one task reads frames while another runs the turns in order."""

    def __init__(self, engine: Engine, guard: ChannelGuard):
        self.engine = engine
        self.guard = guard
        self.open = 0
        self.sockets: set[web.WebSocketResponse] = set()
        self.by_session: dict[str, set[web.WebSocketResponse]] = {}

    async def handle(self, request: web.Request) -> web.StreamResponse:
        refusal = self.guard.check_request(request)
        if refusal is None and self.open >= self.guard.settings.max_connections:
            refusal = Refusal("too_many_connections", "the server is full; try again shortly", 503)
        if refusal is not None:
            return error_response(refusal.code, refusal.detail, refusal.status)
        ws = web.WebSocketResponse(heartbeat=self.guard.settings.heartbeat_s,
                                   max_msg_size=max(65536, self.guard.settings.max_message_chars * 8))
        await ws.prepare(request)
        self.open += 1
        self.sockets.add(ws)
        metrics.CONNECTIONS.labels(CHANNEL).inc()
        try:
            await self._serve(ws, request)
        finally:
            self.open -= 1
            self.sockets.discard(ws)
            metrics.CONNECTIONS.labels(CHANNEL).dec()
        return ws

    async def _serve(self, ws: web.WebSocketResponse, request: web.Request) -> None:
        asked = request.query.get("session_id", "")
        session_id = asked if SESSION_ID.match(asked) else uuid.uuid4().hex
        tracker = await self.engine.tracker(f"{CHANNEL}:{session_id}")
        resumed = bool(tracker.events)
        await ws.send_json({"type": "session", "session_id": session_id, "resumed": resumed})
        self.by_session.setdefault(session_id, set()).add(ws)
        if resumed:
            await ws.send_json({"type": "history", "messages": history(tracker.events)})
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        worker = asyncio.create_task(self._turns(ws, queue, session_id, request))
        try:
            while True:
                try:
                    frame = await ws.receive(timeout=self.guard.settings.idle_timeout_s)
                except asyncio.TimeoutError:
                    await ws.close(code=4000, message=b"idle")
                    break
                if frame.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                    break
                if frame.type != WSMsgType.TEXT:
                    await self._error(ws, "unsupported", "send JSON text frames")
                    continue
                try:
                    body = json.loads(frame.data)
                except (json.JSONDecodeError, TypeError):
                    await self._error(ws, "invalid_json", "the frame is not valid JSON")
                    continue
                if not isinstance(body, dict):
                    await self._error(ws, "invalid_json", "the frame must be a JSON object")
                    continue
                kind = body.get("type")
                if kind == "ping":
                    await ws.send_json({"type": "pong"})
                elif kind == "message":
                    refusal = self.guard.check_message(body.get("text"), f"{CHANNEL}:{session_id}",
                                                       client_ip(request))
                    if refusal is not None:
                        await self._error(ws, refusal.code, refusal.detail, body.get("message_id"))
                    else:
                        queue.put_nowait(body)
                else:
                    await self._error(ws, "unknown_type", "`type` must be message or ping")
        finally:
            queue.put_nowait(None)
            await asyncio.shield(worker)  # a disconnect or shutdown lets the turn in flight finish and be saved
            sockets = self.by_session.get(session_id, set())
            sockets.discard(ws)
            if not sockets:
                self.by_session.pop(session_id, None)

    async def deliver(self, session_id: str, event: Outbound, metadata: dict[str, Any]) -> None:
        """Push an event (an agent's reply, the bot taking over again) to the shopper's open sockets."""
        for ws in list(self.by_session.get(session_id, ())):
            if not ws.closed:
                await ws.send_json(event_json(event, None))

    async def _turns(self, ws: web.WebSocketResponse, queue: asyncio.Queue, session_id: str,
                     request: web.Request) -> None:
        while (body := await queue.get()) is not None:
            message_id = str(body.get("message_id") or "") or None
            inbound = Inbound(session_id, body["text"], CHANNEL, metadata={"ip": client_ip(request)},
                              message_id=message_id)

            async def send(event: Outbound, message_id: str | None = message_id) -> None:
                if not ws.closed:
                    await ws.send_json(event_json(event, message_id))

            try:
                await run_turn(self.engine, inbound, send)
            except (ConnectionResetError, RuntimeError) as exc:  # the client left mid-turn; the turn is saved
                log.info("websocket %s closed during a turn: %s", session_id, type(exc).__name__)

    @staticmethod
    async def _error(ws: web.WebSocketResponse, code: str, detail: str, message_id: Any = None) -> None:
        metrics.ERRORS.labels(CHANNEL, code).inc()
        await ws.send_json({"type": "error", "code": code, "detail": detail,
                            **({"message_id": message_id} if message_id else {})})


def history(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The last messages of a conversation, for a widget that reconnects."""
    messages = []
    for event in events:
        if event["event"] == "user" and event.get("text"):
            messages.append({"role": "user", "text": event["text"]})
        elif event["event"] == "bot" and event.get("text"):
            role = "agent" if (event.get("metadata") or {}).get("agent") else "bot"
            messages.append({"role": role, "text": event["text"], "buttons": (event.get("data") or {}).get("buttons")
                             or []})
    return messages[-HISTORY_MESSAGES:]
