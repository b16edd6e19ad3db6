"""Who may see an order: the order id and the email on it must match, checked by the store back-end.

Every order action re-checks the pair itself, so a slot set by any path (form, correction, remote tracker) reveals
nothing on its own. Failed checks are counted in a ledger outside the conversation (`actions.ledger`), per order id,
per email (a keyed hash of it), per client address and per conversation, so `/restart`, a new session or another
channel starts with the same strikes. A key at its limit (`LIMITS`) stops every check that involves it, without
asking the back-end, and the bot offers a person instead: with a customer's email known, an attacker gets at most 5
guesses at their order numbers, and one address at most 20 failed checks an hour. The `failed_checks` slot only
carries the "N tries left" wording. Messages never say whether an order number exists.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import re
import unicodedata
from abc import ABC, abstractmethod
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.ledger import Limit, locked
from actions.services import get_backend, get_ledger
from actions.store_backend import canonical_text, order_key

MAX_FAILED_CHECKS = 5
HOUR, DAY = 3600.0, 86400.0
LIMITS = {"order": Limit(5, DAY), "email": Limit(5, DAY), "conversation": Limit(MAX_FAILED_CHECKS, DAY),
          "address": Limit(20, HOUR)}
ORDER_ID = re.compile(r"^#?([0-9]{4,10})$")
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^\W\d_]{2,}$")
HANDOFF_BUTTON = {"title": "Talk to a person", "payload": "/human_handoff"}
NO_ORDERS = ("I can't look up orders in this chat: this store's order system isn't connected to it. A member of our "
             "team can help you with your order: shall I connect you?")


def normalise_order_id(value: Any) -> str | None:
    """"#10445" (or full-width "１０４４５") -> "10445"; None when the text is not an order number."""
    match = ORDER_ID.match(canonical_text(value))
    return match.group(1) if match else None


def normalise_email(value: Any) -> str | None:
    """The email in its canonical form (NFKC, case-folded, trimmed; internationalised addresses allowed); None when
    it is not one."""
    text = canonical_text(value).strip("<>.,;")
    if len(text) > 254 or any(unicodedata.category(c) in ("Cc", "Cs", "Co", "Cn") for c in text):
        return None
    return text if EMAIL.match(text) else None


def client_address(tracker: Tracker) -> str:
    """Where the shopper writes from: the `ip` the channel put in the latest user message's metadata (an IPv6
    address counts by its /64), else the channel and sender (Telegram, WhatsApp)."""
    user = tracker.get_last_event_for("user") or {}
    ip = (user.get("metadata") or {}).get("ip")
    if isinstance(ip, str) and ip.strip():
        try:
            address = ipaddress.ip_address(ip.strip())
        except ValueError:
            return "ip:" + ip.strip()[:100]
        if isinstance(address, ipaddress.IPv6Address):
            if address.ipv4_mapped is not None:
                return f"ip:{address.ipv4_mapped}"
            return f"net:{ipaddress.ip_network(f'{address}/64', strict=False)}"
        return f"ip:{address}"
    return f"sender:{user.get('input_channel') or ''}:{tracker.sender_id}"


def guard_keys(tracker: Tracker, order_id: str | None = None, email: str | None = None) -> dict[str, Limit]:
    """The ledger keys a check counts against (keyed hashes, no personal data) and their limits."""
    secret = get_ledger().secret()
    values = {"conversation": str(tracker.sender_id or ""), "address": client_address(tracker)}
    if order_id:
        values["order"] = order_key(order_id) or canonical_text(order_id)
    if email:
        values["email"] = canonical_text(email)
    keys = {}
    for kind, value in values.items():
        message = (kind + "\x00" + value).encode("utf-8", "surrogatepass")
        keys[f"{kind}:{hmac.new(secret, message, hashlib.sha256).hexdigest()[:40]}"] = LIMITS[kind]
    return keys


def is_locked(tracker: Tracker, order_id: str | None = None, email: str | None = None) -> bool:
    """True when this conversation, its address, or the given order id or email has used up its checks."""
    return locked(get_ledger(), guard_keys(tracker, order_id, email))


def say_locked_out(dispatcher: CollectingDispatcher) -> None:
    dispatcher.utter_message(text="I can't look up orders in this chat any more. A member of our team can help "
                                  "you: shall I connect you?", buttons=[HANDOFF_BUTTON])


def say_no_orders(dispatcher: CollectingDispatcher) -> None:
    """The store has no order system connected: say so and offer a person."""
    dispatcher.utter_message(text=NO_ORDERS, buttons=[HANDOFF_BUTTON])


def cleared(failures: int) -> list[EventType]:
    return [SlotSet("failed_checks", failures), SlotSet("order_id", None), SlotSet("email", None),
            SlotSet("verified_order", None)]


def check_identity(tracker: Tracker, dispatcher: CollectingDispatcher, order_id: str,
                   email: str) -> tuple[bool, list[EventType]]:
    """Check the pair with the back-end, a strike reserved first (refused without asking the back-end when a key
    is at its limit); on a mismatch say so (without saying which part is wrong, nor whether the order exists), keep
    the strike and clear both slots so the shopper is asked again. A match takes back only its own strike."""
    backend, ledger = get_backend(), get_ledger()
    keys = guard_keys(tracker, order_id, email)
    token = ledger.reserve(keys)
    if token is None:
        say_locked_out(dispatcher)
        return False, cleared(MAX_FAILED_CHECKS)
    if backend is not None and backend.verify(order_id, email):
        ledger.release(token, keys)
        return True, [SlotSet("verified_order", order_id)]
    counts = ledger.counts(keys)
    left = max(0, min(limit.count - counts[key] for key, limit in keys.items()))
    if left > 0:
        dispatcher.utter_message(text="That order number and email don't match an order we have. Please check both "
                                      f"({left} {'try' if left == 1 else 'tries'} left).")
    else:
        say_locked_out(dispatcher)
    return False, cleared(max(0, MAX_FAILED_CHECKS - left))


def verified_order(tracker: Tracker, dispatcher: CollectingDispatcher) -> tuple[dict[str, Any] | None, list[EventType]]:
    """The order named by the `order_id` and `email` slots when they match; otherwise says why and returns None."""
    order_id, email = normalise_order_id(tracker.get_slot("order_id")), normalise_email(tracker.get_slot("email"))
    if not order_id or not email:
        if is_locked(tracker):
            say_locked_out(dispatcher)
        else:
            dispatcher.utter_message(text="I need your order number and the email you ordered with.")
        return None, []
    ok, events = check_identity(tracker, dispatcher, order_id, email)
    backend = get_backend()
    return (backend.order(order_id) if ok and backend is not None else None), events


def idempotency_key(tracker: Tracker, action: str, order_id: str) -> str | None:
    """The key of one change: the conversation, the action, the order and the shopper's message that triggered it
    (its channel `message_id`, else its timestamp), so a retried call (same tracker) repeats it; None without a
    shopper message."""
    user = tracker.get_last_event_for("user")
    if user is None:
        return None
    trigger = (user.get("metadata") or {}).get("message_id") or user.get("message_id") or user.get("timestamp")
    if trigger in (None, ""):
        return None
    parts = json.dumps([str(tracker.sender_id), action, str(order_id), str(trigger)], ensure_ascii=True)
    return hashlib.sha256(parts.encode("ascii")).hexdigest()


class OrderAction(Action, ABC):
    """An action on the shopper's own order: `act` runs only once the order id and the email on it match."""

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        if get_backend() is None:
            say_no_orders(dispatcher)
            return self.refused()
        order, events = verified_order(tracker, dispatcher)
        if order is None:
            return events + self.refused()
        return events + self.act(order, dispatcher, tracker)

    @abstractmethod
    def act(self, order: dict[str, Any], dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        """Do the action on the verified `order`; returns its events."""

    def refused(self) -> list[EventType]:
        """Events added when the order could not be verified."""
        return []
