"""Our own websocket protocol at `/ws` (see docs/protocol.md): streamed chunks, messages with buttons, cards and
sources, handoff notices and errors; a bad frame gets an `error` and the socket stays open.

Sessions are issued by the server only: the `session` frame carries the id and its secret, and a reconnect resumes
only with both (`?session_id=...&secret=...`); anything else gets a fresh session. The history a resumed socket gets
leaves out what order actions said (tracking numbers, addresses, totals): this connection has not verified them.
Sockets are capped per client address, and one that sends nothing is closed after `first_message_timeout_s`."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
from typing import Any

from aiohttp import WSMsgType, web

from bot import metrics
from bot.analytics.feedback import FeedbackIntake, parse_feedback
from bot.channels.behaviour import BehaviourIntake
from bot.channels.connections import ConnectionSlots
from bot.channels.guard import ChannelGuard, ClientRefused, client_ip, error_response, valid_unicode
from bot.channels.sessions import SessionIds
from bot.channels.turns import run_turn_or_report
from bot.dialogue.errors import StateUnavailable
from bot.dialogue.tracker import ACTION_LISTEN, SESSION_START
from bot.engine import INTERNAL, RESTARTING, TRY_AGAIN, Engine
from bot.messages import Inbound, Outbound

log = logging.getLogger("shopbot.ws")
CHANNEL = "web"
SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
HISTORY_MESSAGES = 30
HARD_FRAME_BYTES = 1024 * 1024   # aiohttp closes the socket (1009) above this; below it, too big is an `error`
MAX_MESSAGE_ID_CHARS = 200
CLOSE_IDLE, CLOSE_SILENT = 4000, 4001
HIDDEN = "(Order details are not shown again after a reconnect. Ask me and I'll look them up again.)"
PRIVATE_DATA = frozenset({"order", "return"})       # custom data of order actions: never in a resumed history
PUBLIC_DATA = frozenset({"cards", "handoff", "nudge"})   # what a custom action may say that is not the shopper's own
BUILT_IN_ACTIONS = frozenset({ACTION_LISTEN, SESSION_START, "action_answer"})
ORDER_SLOTS = frozenset({"order_id", "email"})   # once the shopper named an order, custom actions speak of it


def event_json(event: Outbound, message_id: str | None) -> dict[str, Any]:
    """An outbound event in the /ws wire format (`error` carries `code` and `detail`)."""
    if event.type == "error":
        return {"type": "error", "code": event.code or "error", "detail": event.text, "message_id": message_id}
    body = event.to_dict()
    if message_id:
        body["message_id"] = message_id
    return body


async def send_frame(ws: web.WebSocketResponse, body: dict[str, Any]) -> bool:
    """Send one frame; False (never an exception) when the client is gone."""
    if ws.closed:
        return False
    try:
        await ws.send_json(body)
    except (ConnectionError, RuntimeError):
        return False
    return True


class WebsocketChannel:
    """Serves `/ws`; one task reads frames while another runs the turns in order."""

    def __init__(self, engine: Engine, guard: ChannelGuard, sessions: SessionIds | None = None,
                 slots: ConnectionSlots | None = None, behaviour: BehaviourIntake | None = None,
                 feedback: FeedbackIntake | None = None):
        self.engine = engine
        self.guard = guard
        self.behaviour = behaviour   # `event` frames (storefront behaviour); None: refused as `unknown_type`
        self.feedback = feedback     # `feedback` frames (a chat's thumbs up or down); None: `unknown_type`
        settings = guard.settings
        self.ids = sessions or SessionIds(secrets.token_bytes(32))
        self.slots = slots or ConnectionSlots(settings.max_connections, settings.max_connections_per_ip)
        self.frame_limit = max(65536, settings.max_message_chars * 8)   # bytes; a bigger frame gets `too_large`
        self.sockets: set[web.WebSocketResponse] = set()
        self.by_session: dict[str, set[web.WebSocketResponse]] = {}

    @property
    def open(self) -> int:
        return len(self.sockets)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        refusal = self.guard.check_request(request)
        if refusal is not None:
            return error_response(refusal.code, refusal.detail, refusal.status)
        address = client_ip(request)
        refusal = self.slots.take(address)
        if refusal is not None:
            metrics.ERRORS.labels(CHANNEL, refusal.code).inc()
            return error_response(refusal.code, refusal.detail, refusal.status)
        try:
            ws = self.new_socket()
            await ws.prepare(request)
            await self._serve_counted(ws, request)
        finally:
            self.slots.release(address)
        return ws

    def new_socket(self) -> web.WebSocketResponse:
        return web.WebSocketResponse(heartbeat=self.guard.settings.heartbeat_s,
                                     max_msg_size=max(HARD_FRAME_BYTES, self.frame_limit * 2))

    async def adopt(self, ws: web.WebSocketResponse, request: web.Request) -> None:
        """Serve a socket opened (by `new_socket`, checked by the guard) before this channel existed: one a client
        opened while the server was starting (`bot.serving`). It takes a connection slot like any other."""
        address = client_ip(request)
        refusal = self.slots.take(address)
        if refusal is not None:
            metrics.ERRORS.labels(CHANNEL, refusal.code).inc()
            await self._error(ws, refusal.code, refusal.detail)
            await ws.close()
            return
        try:
            await self._serve_counted(ws, request)
        finally:
            self.slots.release(address)

    async def _serve_counted(self, ws: web.WebSocketResponse, request: web.Request) -> None:
        self.sockets.add(ws)
        metrics.CONNECTIONS.labels(CHANNEL).inc()
        try:
            await self._serve(ws, request)
        finally:
            self.sockets.discard(ws)
            metrics.CONNECTIONS.labels(CHANNEL).dec()

    async def _session(self, ws: web.WebSocketResponse, request: web.Request) -> str:
        """Resume the session the client proved it holds, or issue a new one; send `session` (and `history`)."""
        asked, secret = request.query.get("session_id", ""), request.query.get("secret", "")
        resumed = bool(asked) and self.ids.resumable(CHANNEL, asked, secret)
        session_id = asked if resumed else self.ids.issue(CHANNEL)
        hello: dict[str, Any] = {"type": "session", "session_id": session_id,
                                 "secret": self.ids.secret(CHANNEL, session_id), "resumed": resumed}
        if asked and not resumed:
            metrics.ERRORS.labels(CHANNEL, "invalid_session").inc()
            hello.update(reason="invalid_session", detail="that session cannot be resumed here; this is a new one")
        await send_frame(ws, hello)
        if resumed:
            try:
                tracker = await self.engine.tracker(f"{CHANNEL}:{session_id}")
            except StateUnavailable:
                log.warning("websocket resume: conversation state unavailable; no history sent")
                await self._error(ws, "unavailable", TRY_AGAIN)
            else:
                await send_frame(ws, {"type": "history", "messages": history(tracker.events, reveal_orders=False)})
        return session_id

    async def _serve(self, ws: web.WebSocketResponse, request: web.Request) -> None:
        session_id = await self._session(ws, request)
        self.by_session.setdefault(session_id, set()).add(ws)
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        worker = asyncio.create_task(self._turns(ws, queue, session_id, request))
        settings = self.guard.settings
        heard = False
        try:
            while True:
                try:
                    frame = await ws.receive(timeout=settings.idle_timeout_s if heard
                                             else min(settings.first_message_timeout_s, settings.idle_timeout_s))
                except asyncio.TimeoutError:
                    await ws.close(code=CLOSE_IDLE if heard else CLOSE_SILENT,
                                   message=b"idle" if heard else b"no message")
                    break
                if frame.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                    break
                heard = True
                if frame.type != WSMsgType.TEXT:
                    await self._error(ws, "unsupported", "send JSON text frames")
                    continue
                if len(frame.data) > self.frame_limit or len(frame.data.encode("utf-8")) > self.frame_limit:
                    await self._error(ws, "too_large", f"frames are limited to {self.frame_limit // 1024} KiB")
                    continue
                try:
                    body = json.loads(frame.data)
                except (json.JSONDecodeError, TypeError, RecursionError):
                    await self._error(ws, "invalid_json", "the frame is not valid JSON")
                    continue
                if not isinstance(body, dict):
                    await self._error(ws, "invalid_json", "the frame must be a JSON object")
                    continue
                kind = body.get("type")
                if kind == "ping":
                    await send_frame(ws, {"type": "pong"})
                elif kind == "message":
                    message_id = str(body.get("message_id") or "")[:MAX_MESSAGE_ID_CHARS] or None
                    if message_id is not None and not valid_unicode(message_id):
                        await self._error(ws, "invalid_message", "`message_id` is not valid Unicode")
                        continue
                    if self.engine.draining:  # shutting down: the turns in flight finish, new messages wait (H5a)
                        await self._error(ws, "unavailable", RESTARTING, message_id)
                        continue
                    try:
                        refusal = await self.guard.check_message(body.get("text"), f"{CHANNEL}:{session_id}",
                                                                 client_ip(request))
                    except Exception as exc:  # noqa: BLE001 - the rate store (Redis) is down: say so, keep the socket
                        log.warning("websocket rate check failed: %s", type(exc).__name__)
                        await self._error(ws, "unavailable", TRY_AGAIN, message_id)
                        continue
                    if refusal is not None:
                        await self._error(ws, refusal.code, refusal.detail, message_id)
                    else:
                        queue.put_nowait({"text": body["text"], "message_id": message_id})
                elif kind == "event" and self.behaviour is not None:
                    parsed = await self._event_frame(ws, body, session_id, request)
                    if parsed is not None:
                        queue.put_nowait({"behaviour": parsed})   # after the turns before it (a consent, say)
                elif kind == "feedback" and self.feedback is not None:
                    rating = await self._feedback_frame(ws, body, session_id, request)
                    if rating is not None:
                        queue.put_nowait({"feedback": rating})    # after the chat's last turn
                else:
                    types = self._types()
                    await self._error(ws, "unknown_type", f"`type` must be {', '.join(types[:-1])} or {types[-1]}")
        finally:
            queue.put_nowait(None)
            await asyncio.shield(worker)  # a disconnect or shutdown lets the turn in flight finish and be saved
            sockets = self.by_session.get(session_id, set())
            sockets.discard(ws)
            if not sockets:
                self.by_session.pop(session_id, None)

    def _types(self) -> list[str]:
        return ["message", *(["event"] if self.behaviour is not None else []),
                *(["feedback"] if self.feedback is not None else []), "ping"]

    async def _feedback_frame(self, ws: web.WebSocketResponse, body: dict[str, Any], session_id: str,
                              request: web.Request) -> str | None:
        """A rating checked and counted against its rate (an `error` frame and None when refused)."""
        assert self.feedback is not None
        try:
            rating = parse_feedback(body)
            if self.engine.draining:
                raise ClientRefused("unavailable", RESTARTING)
            await self.feedback.admit(f"{CHANNEL}:{session_id}", client_ip(request))
        except ClientRefused as exc:
            await self._error(ws, exc.code, exc.detail, feedback=True)
            return None
        except Exception as exc:  # noqa: BLE001 - the rate store (Redis) is down: say so, keep the socket
            log.warning("websocket rate check failed: %s", type(exc).__name__)
            await self._error(ws, "unavailable", TRY_AGAIN, feedback=True)
            return None
        return rating

    async def _rate(self, ws: web.WebSocketResponse, session_id: str, rating: str) -> None:
        """Store one rating (under the conversation's lock); `feedback_ack` or an `error` frame."""
        assert self.feedback is not None
        try:
            event = await self.feedback.record(f"{CHANNEL}:{session_id}", rating, CHANNEL, session_id)
        except asyncio.CancelledError:
            raise
        except ClientRefused as exc:
            await self._error(ws, exc.code, exc.detail, feedback=True)
            return
        except StateUnavailable as exc:
            log.warning("rating not stored: conversation state unavailable (%s)", type(exc).__name__)
            await self._error(ws, "unavailable", TRY_AGAIN, feedback=True)
            return
        except Exception as exc:  # one failed rating is not the connection's end
            log.error("rating failed: %s", type(exc).__name__, exc_info=exc)
            await self._error(ws, "internal", INTERNAL, feedback=True)
            return
        await send_frame(ws, FeedbackIntake.ack(event))

    async def _event_frame(self, ws: web.WebSocketResponse, body: dict[str, Any], session_id: str,
                           request: web.Request) -> dict[str, Any] | None:
        """A behaviour event checked and counted against the rate (an `error` frame and None when refused)."""
        assert self.behaviour is not None
        name = body.get("name") if isinstance(body.get("name"), str) and valid_unicode(body["name"]) else None
        extra = {"event": name[:40]} if name else {}
        try:
            parsed = self.behaviour.parse(body)
        except ClientRefused as exc:
            await self._error(ws, exc.code, exc.detail, **extra)
            return None
        if self.engine.draining:
            await self._error(ws, "unavailable", RESTARTING, **extra)
            return None
        try:
            await self.behaviour.admit(f"{CHANNEL}:{session_id}", client_ip(request))
        except ClientRefused as exc:
            await self._error(ws, exc.code, exc.detail, **extra)
            return None
        except Exception as exc:  # noqa: BLE001 - the rate store (Redis) is down: say so, keep the socket
            log.warning("websocket rate check failed: %s", type(exc).__name__)
            await self._error(ws, "unavailable", TRY_AGAIN, **extra)
            return None
        return parsed

    async def _behaviour(self, ws: web.WebSocketResponse, session_id: str, parsed: dict[str, Any]) -> None:
        """Store one behaviour event (under the conversation's lock); `event_ack`, then the nudge it brought."""
        assert self.behaviour is not None
        extra = {"event": parsed["name"]}
        try:
            recorded = await self.behaviour.record(f"{CHANNEL}:{session_id}", parsed, CHANNEL, session_id)
        except asyncio.CancelledError:
            raise
        except ClientRefused as exc:
            await self._error(ws, exc.code, exc.detail, **extra)
            return
        except StateUnavailable as exc:
            log.warning("behaviour event not stored: conversation state unavailable (%s)", type(exc).__name__)
            await self._error(ws, "unavailable", TRY_AGAIN, **extra)
            return
        except Exception as exc:  # one failed event is not the connection's end
            log.error("behaviour event failed: %s", type(exc).__name__, exc_info=exc)
            await self._error(ws, "internal", INTERNAL, **extra)
            return
        await send_frame(ws, recorded.ack())
        if recorded.nudge is not None:
            await send_frame(ws, event_json(recorded.nudge, None))

    async def deliver(self, session_id: str, event: Outbound, metadata: dict[str, Any]) -> None:
        """Push an event (an agent's reply, the bot taking over again) to the shopper's open sockets."""
        for ws in list(self.by_session.get(session_id, ())):
            await send_frame(ws, event_json(event, None))

    async def _turns(self, ws: web.WebSocketResponse, queue: asyncio.Queue, session_id: str,
                     request: web.Request) -> None:
        """Run the socket's turns in order. A turn that fails is told to the client as an `error` (`unavailable`
        when the conversation store or lock service is down, else `internal`) and the next message is handled."""
        while (body := await queue.get()) is not None:
            if "behaviour" in body:
                await self._behaviour(ws, session_id, body["behaviour"])
                continue
            if "feedback" in body:
                await self._rate(ws, session_id, body["feedback"])
                continue
            message_id = body["message_id"]
            inbound = Inbound(session_id, body["text"], CHANNEL, metadata={"ip": client_ip(request)},
                              message_id=message_id)

            async def send(event: Outbound, message_id: str | None = message_id) -> None:
                await send_frame(ws, event_json(event, message_id))   # a client gone mid-turn: the turn still ends

            async def report(code: str, detail: str, message_id: str | None = message_id) -> None:
                await self._error(ws, code, detail, message_id)

            await run_turn_or_report(self.engine, inbound, send, report)

    @staticmethod
    async def _error(ws: web.WebSocketResponse, code: str, detail: str, message_id: Any = None,
                     **extra: Any) -> None:
        metrics.ERRORS.labels(CHANNEL, code).inc()
        await send_frame(ws, {"type": "error", "code": code, "detail": detail,
                              **({"message_id": message_id} if message_id else {}), **extra})


def _private(event: dict[str, Any], action: str | None, order_given: bool) -> bool:
    """Whether a bot message may state order facts: it carries order or return data, or a custom (rasa-sdk) action
    said it once the shopper had named an order (cancellations, address changes and returns say "order 10445 ..."
    without data), unless it is a product card or the handoff notice."""
    custom = (event.get("data") or {}).get("custom")
    keys = set(custom) if isinstance(custom, dict) else set()
    if keys & PRIVATE_DATA:
        return True
    custom_action = action is not None and action not in BUILT_IN_ACTIONS and not action.startswith("utter_")
    return order_given and custom_action and not (keys & PUBLIC_DATA)


def history(events: list[dict[str, Any]], reveal_orders: bool = True) -> list[dict[str, Any]]:
    """The last messages of a conversation. `reveal_orders=False` (a widget that reconnects) replaces what order
    actions said with one note; the agent console sees everything."""
    messages: list[dict[str, Any]] = []
    action: str | None = None
    order_given = False
    for event in events:
        kind = event["event"]
        if kind == "action":
            action = event.get("name")
        elif kind == "slot" and event.get("name") in ORDER_SLOTS:
            order_given = order_given or bool(event.get("value"))
        elif kind == "restart":
            order_given = False
        elif kind == "user":
            action = None
            if event.get("text"):
                messages.append({"role": "user", "text": event["text"]})
        elif kind == "bot" and event.get("text"):
            agent = (event.get("metadata") or {}).get("agent")
            if not reveal_orders and not agent and _private(event, action, order_given):
                if not (messages and messages[-1].get("hidden")):
                    messages.append({"role": "bot", "text": HIDDEN, "buttons": [], "hidden": True})
                continue
            messages.append({"role": "agent" if agent else "bot", "text": event["text"],
                             "buttons": (event.get("data") or {}).get("buttons") or []})
    return messages[-HISTORY_MESSAGES:]
