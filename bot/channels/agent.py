"""The agent console's API (`/agent/api/...`, bearer token): handed-off chats, their transcripts, replies that reach
the shopper on their own channel (through `Fanout`, so from any replica), and giving a chat back to the bot.

The console page polls the transcripts from the conversation store (shared by every replica), so shopper messages
while a chat is paused need no push to the agent."""

from __future__ import annotations

import hmac
import json
from typing import Any

from aiohttp import web

from bot.channels.fanout import Deliver, Fanout
from bot.channels.guard import error_response
from bot.channels.websocket import history
from bot.engine import Engine
from bot.messages import Outbound

MAX_REPLY_CHARS = 4000


class AgentConsole:
    """`deliverers` is a `Fanout`, or (one process) a mapping of channel name to its `deliver`."""

    def __init__(self, engine: Engine, token: str, deliverers: Fanout | dict[str, Deliver]):
        self.engine = engine
        self.token = token
        self.fanout = deliverers if isinstance(deliverers, Fanout) else Fanout(deliverers)

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/agent/api/conversations", self.conversations)
        app.router.add_get("/agent/api/conversations/{id}", self.transcript)
        app.router.add_post("/agent/api/conversations/{id}/messages", self.reply)
        app.router.add_post("/agent/api/conversations/{id}/resume", self.resume)

    def _refusal(self, request: web.Request) -> web.Response | None:
        if not self.token:
            return error_response("not_configured",
                                  "set server.agent_token (SHOPBOT_AGENT_TOKEN) to use the agent console", 404)
        offered = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(offered.encode("utf-8", "surrogateescape"), self.token.encode()):
            return error_response("unauthorized", "a valid agent token is required", 401)
        return None

    async def conversations(self, request: web.Request) -> web.Response:
        if (refusal := self._refusal(request)) is not None:
            return refusal
        rows = await self.engine.store.handed_off()
        return web.json_response([{"id": r["id"], "channel": r["channel"], "last_text": r["last_text"],
                                   "updated_at": r["updated_at"]} for r in rows])

    async def transcript(self, request: web.Request) -> web.Response:
        if (refusal := self._refusal(request)) is not None:
            return refusal
        tracker = await self.engine.tracker(request.match_info["id"])
        if not tracker.events:
            return error_response("not_found", "no such conversation", 404)
        return web.json_response({"id": tracker.conversation_id, "paused": tracker.paused,
                                  "messages": history(tracker.events)})

    async def reply(self, request: web.Request) -> web.Response:
        if (refusal := self._refusal(request)) is not None:
            return refusal
        try:
            body: Any = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return error_response("invalid_json", "the body must be JSON {text}")
        text = body.get("text") if isinstance(body, dict) else None
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_REPLY_CHARS:
            return error_response("invalid_message", f"`text` must be 1 to {MAX_REPLY_CHARS} characters")
        conversation = request.match_info["id"]
        tracker = await self.engine.tracker(conversation)
        if not tracker.paused:
            return error_response("not_handed_off", "this conversation is with the bot", 409)
        event = await self.engine.agent_message(conversation, text.strip(), agent=str(body.get("agent") or "agent"))
        pushed = await self._deliver(conversation, event, tracker)
        return web.json_response({"ok": True, "pushed": pushed})

    async def resume(self, request: web.Request) -> web.Response:
        if (refusal := self._refusal(request)) is not None:
            return refusal
        conversation = request.match_info["id"]
        tracker = await self.engine.tracker(conversation)
        if not tracker.events:
            return error_response("not_found", "no such conversation", 404)
        event = await self.engine.resume(conversation)
        pushed = await self._deliver(conversation, event, tracker)
        return web.json_response({"ok": True, "pushed": pushed})

    async def _deliver(self, conversation: str, event: Outbound, tracker: Any) -> bool:
        """Push the event to the shopper (saved already: `pushed: false` means they see it when they reconnect)."""
        metadata = next((e.get("metadata") or {} for e in reversed(tracker.events) if e["event"] == "user"), {})
        return await self.fanout.deliver(conversation, event, metadata)

