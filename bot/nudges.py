"""Proactive nudges (`nudges.enabled`, off by default): one message about a product the shopper has looked at for
`nudges.after_seconds`, or left in the cart that long, built from that product's facts and the store's own
shipping fact (never by the LM). At most one a conversation, never after a "no", and only where the shopper's
consent allows behaviour events (the caller checks that).

What happened is an event of the conversation's log, so "once" survives reconnects and restarts:

    {"event": "nudge", "timestamp": 1732377600.0, "status": "sent", "trigger": "viewed", "channel": "web"}
    {"event": "nudge", "timestamp": 1732377660.0, "status": "refused", "channel": "web"}

The nudge's "No thanks" button sends `/nudge{"wanted": false}`, which records the refusal (any time: one before a
nudge was ever sent counts too).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from rasa_sdk.events import BotUttered

from bot.messages import Outbound
from retrieval.money import money

NUDGE = "nudge"
PAYLOAD = re.compile(r"^/nudge(\{.*)?$", re.DOTALL)
REFUSAL = '/nudge{"wanted": false}'
BUTTONS = [{"title": "No thanks", "payload": REFUSAL}]
REFUSED_REPLY = "Okay, I won't pop up with suggestions again."
Trigger = Literal["viewed", "cart"]
TRIGGERS: dict[str, Trigger] = {"product_viewed": "viewed", "added_to_cart": "cart"}


def nudge_event(status: Literal["sent", "refused"], channel: str, trigger: Trigger | None = None,
                timestamp: float | None = None) -> dict[str, Any]:
    """The event recording a nudge sent (and what prompted it) or the shopper's refusal."""
    return {"event": NUDGE, "timestamp": time.time() if timestamp is None else timestamp, "status": status,
            **({"trigger": trigger} if trigger else {}), "channel": channel}


def nudge_turn(text: str, channel: str, now: float | None = None) -> tuple[dict[str, Any] | None, str]:
    """What the engine does with a message: (the refusal event, the reply) for `/nudge{"wanted": false}`;
    (None, a clear message) for another `/nudge{...}`; (None, "") for any other message."""
    match = PAYLOAD.match(text.strip())
    if match is None:
        return None, ""
    try:
        body = json.loads(match.group(1)) if match.group(1) else None
    except json.JSONDecodeError:
        body = None
    if body != {"wanted": False}:
        return None, 'Sorry, I couldn\'t read that: to turn suggestions off, send /nudge{"wanted": false}.'
    return nudge_event("refused", channel, timestamp=now), REFUSED_REPLY


def nudged(events: Iterable[Mapping[str, Any]]) -> bool:
    """Has this conversation had its nudge, or has the shopper said no to one?"""
    return any(e.get("event") == NUDGE for e in events)


def trigger(event: Mapping[str, Any], after_seconds: float) -> Trigger | None:
    """What a behaviour event prompts: `viewed` or `cart` for a dwell report of at least `after_seconds`."""
    dwell = event.get("dwell_s")
    if event.get("event") != "behaviour" or not isinstance(dwell, (int, float)) or dwell < after_seconds:
        return None
    return TRIGGERS.get(str(event.get("name")))


def shipping_fact(facts: Mapping[str, Any]) -> str:
    """The store's free-shipping threshold (`shipping.free_shipping_threshold` in `store.yml`) as a sentence, or
    "" when the store states none."""
    shipping = facts.get("shipping")
    threshold = shipping.get("free_shipping_threshold") if isinstance(shipping, Mapping) else None
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or threshold <= 0:
        return ""
    amount = money(threshold, str(facts.get("currency") or "USD"), whole=True)
    return f"Standard shipping is free on orders of {amount} or more."


def nudge_text(title: str, facts: Mapping[str, Any], why: Trigger) -> str:
    """The nudge, from the product's title and the store's shipping fact."""
    opening = f"Still thinking about the {title} in your cart?" if why == "cart" else f"Questions about the {title}?"
    return " ".join(part for part in (opening, shipping_fact(facts), "I'm here if you want to ask.") if part)


def nudge_message(title: str, facts: Mapping[str, Any], why: Trigger,
                  channel: str) -> tuple[Outbound, list[dict[str, Any]]]:
    """The outbound nudge and the events recording it (the nudge, and the bot message the shopper saw)."""
    text = nudge_text(title, facts, why)
    data = {"nudge": True}
    now = time.time()
    said = BotUttered(text, data={"buttons": BUTTONS, "custom": data}, metadata={"nudge": True}, timestamp=now)
    return Outbound("message", text, buttons=list(BUTTONS), data=data), [nudge_event("sent", channel, why, now), said]
