"""Consent, recorded per conversation as an event of its log (so it is exported and erased with it).

    {"event": "consent", "timestamp": 1732377600.0, "granted": ["transcript"], "withdrawn": [], "channel": "web"}

A shopper's choice arrives as the payload `/consent{"transcript": true}` (`false` withdraws); what a store needs
consent for is `privacy.consent` (`bot.config.PrivacySettings`): `none` keeps a kind of data without asking,
`notice` keeps it unless withdrawn, `opt_in` only once granted. The latest choice for a kind wins.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable
from typing import Any

from bot.config import DATA_KINDS, PrivacySettings

CONSENT = "consent"
PAYLOAD = re.compile(r"^/consent(\{.*)?$", re.DOTALL)


class ConsentError(ValueError):
    """A consent payload that does not say which known kinds are granted or withdrawn."""


def parse_consent(text: str) -> dict[str, bool] | None:
    """`{kind: granted}` from a `/consent{...}` payload; None when `text` is not one; ConsentError when malformed.

    `/consent` alone, or `{"granted": true}`, grants (or withdraws) every kind."""
    match = PAYLOAD.match(text.strip())
    if match is None:
        return None
    try:
        body = json.loads(match.group(1)) if match.group(1) else {"granted": True}
    except json.JSONDecodeError:
        raise ConsentError("the consent payload must be JSON, e.g. /consent{\"transcript\": true}") from None
    if not isinstance(body, dict) or not body:
        raise ConsentError("the consent payload must map kinds of data to true or false")
    if set(body) == {"granted"}:
        body = {kind: body["granted"] for kind in DATA_KINDS}
    unknown = sorted(set(body) - set(DATA_KINDS))
    if unknown:
        raise ConsentError(f"unknown kind of data {', '.join(unknown)}; known: {', '.join(DATA_KINDS)}")
    if not all(isinstance(v, bool) for v in body.values()):
        raise ConsentError("each kind of data must be true (granted) or false (withdrawn)")
    return dict(body)


def consent_event(choices: dict[str, bool], channel: str, timestamp: float | None = None) -> dict[str, Any]:
    """The event recording a shopper's choice."""
    return {"event": CONSENT, "timestamp": time.time() if timestamp is None else timestamp,
            "granted": sorted(k for k, v in choices.items() if v),
            "withdrawn": sorted(k for k, v in choices.items() if not v), "channel": channel}


def choices(events: Iterable[dict[str, Any]]) -> dict[str, bool]:
    """The shopper's latest choice for each kind they decided on."""
    latest: dict[str, bool] = {}
    for event in events:
        if event.get("event") == CONSENT:
            latest.update({kind: True for kind in event.get("granted") or []})
            latest.update({kind: False for kind in event.get("withdrawn") or []})
    return latest


def allows(settings: PrivacySettings, kind: str, events: Iterable[dict[str, Any]]) -> bool:
    """May the store keep this kind of data for this conversation?"""
    mode = settings.mode(kind)
    if mode == "none":
        return True
    decided = choices(events).get(kind)
    return decided is not False if mode == "notice" else decided is True


async def record_consent(engine: Any, conversation_id: str, granted: dict[str, bool], channel: str,
                         sender_id: str = "") -> dict[str, Any]:
    """Append a consent event to a conversation under its lock (for a channel or a console that asks outside a
    turn); returns the event."""
    event = consent_event(granted, channel)
    async with engine.locks.hold(conversation_id):
        await engine.store.append(conversation_id, [event], channel, sender_id)
    return event


GRANTED = "Thanks, your choice is saved: we {kinds}."
WITHDRAWN = "Thanks, your choice is saved: we no longer {kinds}."
WORDS = {"transcript": "keep this conversation's transcript after the chat",   # what "we ..." do with each kind
         "behaviour": "use what you browse here to suggest products"}


def consent_turn(text: str, channel: str, now: float | None = None) -> tuple[dict[str, Any] | None, str]:
    """What the engine does with a message: (the consent event to record, the reply) for a `/consent{...}`
    payload; (None, a clear message) for a malformed one; (None, "") for any other message."""
    try:
        decided = parse_consent(text)
    except ConsentError as exc:
        return None, f"Sorry, I couldn't read that choice: {exc}."
    if decided is None:
        return None, ""
    event = consent_event(decided, channel, now)
    parts = [GRANTED.format(kinds=" and ".join(WORDS.get(k, k) for k in event["granted"]))] if event["granted"] \
        else []
    if event["withdrawn"]:
        parts.append(WITHDRAWN.format(kinds=" or ".join(WORDS.get(k, k) for k in event["withdrawn"])))
    return event, " ".join(parts)
