"""What a conversation event may hold once stored: card numbers never; emails and phone numbers in the shopper's
and the bot's text only when the store allows it (`privacy.redact_transcripts: false`).

The patterns are `bot.logs`' (the ones log lines are redacted with). Slot values stay as they are, except card
numbers: the email a shopper verified an order with is state the dialogue needs, not transcript.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot import logs
from bot.logs import redact_cards

KEEP = frozenset({"message_id", "timestamp", "event"})   # never rewritten: the dedupe key and the event's frame
TEXT_EVENTS = frozenset({"user", "bot"})
TEXT_FIELDS = ("text", "parse_data", "data")           # where a user or bot event carries what was written

EventRedactor = Callable[[list[dict[str, Any]]], list[dict[str, Any]]]


def _walk(value: Any, scrub: Callable[[str], str]) -> Any:
    """A copy of `value` with `scrub` applied to every string in it (dict keys in `KEEP` left alone)."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {k: v if k in KEEP else _walk(v, scrub) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_walk(v, scrub) for v in value]
    return value


class TranscriptRedactor:
    """Redacts a turn's events on their way to the store (copies: the turn in memory keeps what was said)."""

    def __init__(self, pii: bool = False):
        self.pii = pii

    def event(self, event: dict[str, Any]) -> dict[str, Any]:
        redacted = _walk(event, redact_cards)
        if self.pii and event.get("event") in TEXT_EVENTS:
            for field in TEXT_FIELDS:
                if field in redacted:
                    redacted[field] = _walk(redacted[field], logs.redact)
        return redacted

    def __call__(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [self.event(e) for e in events]


redact_events: EventRedactor = TranscriptRedactor()   # the default: card numbers only
