"""The shopper's rating of a chat (CSAT): a thumbs up or down the widget asks for when a chat ends, sent as a `/ws`
`feedback` frame or `POST /webhooks/rest/feedback`, and kept as an event of the conversation's log:

    {"event": "csat", "timestamp": 1732377600.0, "rating": "up", "channel": "web"}

It rates the session it falls in (the latest rating of a chat counts). A rating needs a chat to rate: at least one
shopper message in the conversation's current session. Ratings are counted against the sender's message rate in a
window of their own. The event holds no text, so it is exported and erased with the conversation like any other.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from bot.channels.guard import ChannelGuard, ClientRefused
from bot.engine import Engine

CSAT = "csat"
RATINGS = ("up", "down")
FIELDS = frozenset({"type", "rating"})
WINDOW = "/feedback"   # a sender's ratings are counted apart from its messages


def parse_feedback(frame: Any) -> str:
    """The rating (`up` or `down`) of a client's frame or body; `ClientRefused` (`invalid_feedback`) naming the
    field that is wrong."""
    if not isinstance(frame, Mapping):
        raise ClientRefused("invalid_feedback", "a rating must be a JSON object")
    unknown = sorted(str(k)[:40].encode("utf-8", "replace").decode() for k in frame
                     if k not in FIELDS)
    if unknown:
        raise ClientRefused("invalid_feedback", f"unknown field {', '.join(unknown)}; a rating has only `rating`")
    rating = frame.get("rating")
    if not isinstance(rating, str) or rating not in RATINGS:
        raise ClientRefused("invalid_feedback", "`rating` must be \"up\" or \"down\"")
    return rating


def csat_event(rating: str, channel: str, timestamp: float | None = None) -> dict[str, Any]:
    """The event stored for a rating."""
    return {"event": CSAT, "timestamp": time.time() if timestamp is None else timestamp, "rating": rating,
            "channel": channel}


def has_chat(session_events: list[dict[str, Any]]) -> bool:
    """Whether the session holds a shopper message (commands such as `/restart` are not one)."""
    return any(e.get("event") == "user" and (e.get("parse_data") or {}).get("source") != "command"
               for e in session_events)


class FeedbackIntake:
    """Checks, rate-limits and stores ratings for every channel that takes them."""

    def __init__(self, engine: Engine, guard: ChannelGuard):
        self.engine = engine
        self.guard = guard

    async def admit(self, sender_key: str, ip: str) -> None:
        """One rating against the sender's rating window and the address's window (`rate_limited`)."""
        if not await self.guard.rates.allow(sender_key + WINDOW, ip):
            raise ClientRefused("rate_limited", "too many ratings; wait a moment", 429)

    async def record(self, conversation_id: str, rating: str, channel: str, sender_id: str = "",
                     timestamp: float | None = None) -> dict[str, Any]:
        """Store the rating in the conversation's log, under its lock, after any turn in flight; returns the event.
        `nothing_to_rate` when the current session has no shopper message; `StateUnavailable` when the store or the
        lock service is down."""
        async with self.engine.locks.hold(conversation_id):
            session = await self.engine.store.load(conversation_id)
            if not has_chat(list(session)):
                raise ClientRefused("nothing_to_rate", "there is no chat to rate yet: send a message first", 409)
            event = csat_event(rating, channel, timestamp)
            await self.engine.store.append(conversation_id, [event], channel, sender_id)
        return event

    @staticmethod
    def ack(event: Mapping[str, Any]) -> dict[str, Any]:
        """The acknowledgement frame (`/ws`) or body (REST)."""
        return {"type": "feedback_ack", "rating": event["rating"]}
