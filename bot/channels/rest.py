"""Rasa's REST channel: `POST /webhooks/rest/webhook` `{sender, message, metadata?}` -> a JSON list of messages;
with `?stream=true`, one JSON message a line as each is ready. `POST /webhooks/rest/event` `{sender, name,
product_id, dwell_s?}` stores a storefront behaviour event of that sender's conversation (`bot.channels.behaviour`);
`POST /webhooks/rest/feedback` `{sender, rating}` the sender's rating of the chat (`bot.analytics.feedback`)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.analytics.feedback import FeedbackIntake, parse_feedback
from bot.channels.behaviour import BehaviourIntake
from bot.channels.guard import ChannelGuard, ClientRefused, client_ip, error_response, valid_unicode
from bot.channels.rasa_format import rest_messages
from bot.channels.turns import run_turn
from bot.dialogue.errors import StateUnavailable
from bot.engine import RESTARTING, TRY_AGAIN, Engine
from bot.messages import Inbound, Outbound

CHANNEL = "rest"


class RestChannel:
    def __init__(self, engine: Engine, guard: ChannelGuard, behaviour: BehaviourIntake | None = None,
                 feedback: FeedbackIntake | None = None):
        self.engine = engine
        self.guard = guard
        self.behaviour = behaviour
        self.feedback = feedback

    async def handle_feedback(self, request: web.Request) -> web.Response:
        """`POST /webhooks/rest/feedback` `{sender, rating}`: `{"type": "feedback_ack", "rating"}`, or an error:
        `invalid_feedback` 400, `nothing_to_rate` 409, `rate_limited` 429, `unavailable` 503."""
        feedback = self.feedback
        return await self._take(request, feedback, "invalid_feedback", "`sender` (a string) and `rating` are required",
                                "ratings", parse_feedback,
                                lambda key, rating, sender: feedback.record(key, rating, CHANNEL, sender),
                                lambda event, sender: FeedbackIntake.ack(event))

    async def handle_event(self, request: web.Request) -> web.Response:
        """`POST /webhooks/rest/event`: `{"type": "event_ack", "name", "product_id", "messages": [...]}` (the
        nudge it brought, as REST messages), or an error: `invalid_event` 400, `consent_required` 403,
        `rate_limited` 429, `unavailable` 503."""
        behaviour = self.behaviour

        def ack(recorded: Any, sender: str) -> dict[str, Any]:
            return {**recorded.ack(), "messages": rest_messages(recorded.nudge, sender) if recorded.nudge else []}

        return await self._take(request, behaviour, "invalid_event",
                                "`sender` (a string), `name` and `product_id` are required", "behaviour events",
                                lambda body: behaviour.parse(body),
                                lambda key, parsed, sender: behaviour.record(key, parsed, CHANNEL, sender), ack)

    async def _take(self, request: web.Request, intake: BehaviourIntake | FeedbackIntake | None, code: str,
                    required: str, what: str, parse: Callable[[dict[str, Any]], Any],
                    record: Callable[[str, Any, str], Awaitable[Any]],
                    ack: Callable[[Any, str], dict[str, Any]]) -> web.Response:
        """One client event or rating: read the body, `parse` it (`sender` taken out), refuse while draining, count
        it against the sender's and the address's rates, `record` it, answer `ack`; `ClientRefused` and an
        unavailable store become error responses."""
        read = await self._read(request, code, required)
        if isinstance(read, web.Response):
            return read
        if intake is None:
            return error_response("not_found", f"this server takes no {what}", 404)
        body, sender = read
        body.pop("sender")
        try:
            parsed = parse(body)
            if self.engine.draining:
                return error_response("unavailable", RESTARTING, 503)
            await intake.admit(f"{CHANNEL}:{sender}", client_ip(request))
            recorded = await record(f"{CHANNEL}:{sender}", parsed, sender)
        except ClientRefused as exc:
            return error_response(exc.code, exc.detail, exc.status)
        except StateUnavailable:
            return error_response("unavailable", TRY_AGAIN, 503)
        return web.json_response(ack(recorded, sender))

    async def _read(self, request: web.Request, code: str, required: str) -> tuple[dict[str, Any], str] | web.Response:
        """The request's JSON object and its `sender` (at most 128 characters), or the error response: the
        channel's token and origin checks, `invalid_json`, and `code` for a missing or malformed sender."""
        refusal = self.guard.check_request(request)
        if refusal is not None:
            return error_response(refusal.code, refusal.detail, refusal.status)
        try:
            body: Any = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return error_response("invalid_json", "the body must be a JSON object")
        if not isinstance(body, dict) or not isinstance(body.get("sender"), (str, int)) or not str(body["sender"]):
            return error_response(code, required)
        sender = str(body["sender"])[:128]
        if not valid_unicode(sender):
            return error_response(code, "`sender` is not valid Unicode (a lone surrogate such as \\ud800)")
        return body, sender

    async def handle(self, request: web.Request) -> web.StreamResponse:
        read = await self._read(request, "invalid_message", "`sender` (a string) and `message` are required")
        if isinstance(read, web.Response):
            return read
        body, sender = read
        refusal = await self.guard.check_message(body.get("message"), f"{CHANNEL}:{sender}", client_ip(request))
        if refusal is not None:
            return error_response(refusal.code, refusal.detail, refusal.status)
        metadata = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
        message_id = str(metadata.get("message_id") or "")[:128] or None
        if message_id is not None and not valid_unicode(message_id):
            return error_response("invalid_message", "`metadata.message_id` is not valid Unicode")
        inbound = Inbound(sender, body["message"], CHANNEL, metadata={"ip": client_ip(request)},
                          message_id=message_id)
        if request.query.get("stream", "").lower() in ("1", "true", "yes"):
            response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
            await response.prepare(request)

            async def stream(event: Outbound) -> None:
                errors = [{"recipient_id": sender, "text": event.text, "custom": {"error": event.code}}] \
                    if event.type == "error" else []
                for message in errors + rest_messages(event, sender):
                    await response.write((json.dumps(message) + "\n").encode())

            await run_turn(self.engine, inbound, stream)
            await response.write_eof()
            return response
        messages: list[dict[str, Any]] = []

        async def collect(event: Outbound) -> None:
            if event.type == "error":
                messages.append({"recipient_id": sender, "text": event.text, "custom": {"error": event.code}})
            messages.extend(rest_messages(event, sender))

        await run_turn(self.engine, inbound, collect)
        return web.json_response(messages)

