"""Who may see an order: the order id and the email on it must match, checked by the store back-end.

Every order action re-checks the pair itself, so a slot set by any path (form, correction, remote tracker) reveals
nothing on its own. After `MAX_FAILED_CHECKS` failed checks in a conversation the bot stops checking and offers a
human, so order ids cannot be guessed by trying emails. Messages never say whether an order number exists.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.services import get_backend

MAX_FAILED_CHECKS = 5
ORDER_ID = re.compile(r"^#?(\d{4,10})$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
HANDOFF_BUTTON = {"title": "Talk to a person", "payload": "/human_handoff"}


def normalise_order_id(value: Any) -> str | None:
    """"#10445" -> "10445"; None when the text is not an order number."""
    match = ORDER_ID.match(str(value or "").strip())
    return match.group(1) if match else None


def normalise_email(value: Any) -> str | None:
    """A trimmed, lower-case email; None when it is not one."""
    text = str(value or "").strip().strip("<>.,;").lower()
    return text if EMAIL.match(text) else None


def locked_out(tracker: Tracker) -> bool:
    """True once this conversation has used up its identity checks."""
    return int(tracker.get_slot("failed_checks") or 0) >= MAX_FAILED_CHECKS


def say_locked_out(dispatcher: CollectingDispatcher) -> None:
    dispatcher.utter_message(text="I can't look up orders in this chat any more. A member of our team can help "
                                  "you: shall I connect you?", buttons=[HANDOFF_BUTTON])


def check_identity(tracker: Tracker, dispatcher: CollectingDispatcher, order_id: str,
                   email: str) -> tuple[bool, list[EventType]]:
    """Check the pair with the back-end; on a mismatch say so (without saying which part is wrong), count a
    failure and clear both slots so the shopper is asked again."""
    if get_backend().verify(order_id, email):
        return True, [SlotSet("verified_order", order_id)]
    failures = int(tracker.get_slot("failed_checks") or 0) + 1
    left = MAX_FAILED_CHECKS - failures
    if left > 0:
        dispatcher.utter_message(text="That order number and email don't match an order we have. Please check both "
                                      f"({left} {'try' if left == 1 else 'tries'} left).")
    else:
        say_locked_out(dispatcher)
    return False, [SlotSet("failed_checks", failures), SlotSet("order_id", None), SlotSet("email", None),
                   SlotSet("verified_order", None)]


def verified_order(tracker: Tracker, dispatcher: CollectingDispatcher) -> tuple[dict[str, Any] | None, list[EventType]]:
    """The order named by the `order_id` and `email` slots when they match; otherwise says why and returns None."""
    if locked_out(tracker):
        say_locked_out(dispatcher)
        return None, []
    order_id, email = normalise_order_id(tracker.get_slot("order_id")), normalise_email(tracker.get_slot("email"))
    if not order_id or not email:
        dispatcher.utter_message(text="I need your order number and the email you ordered with.")
        return None, []
    ok, events = check_identity(tracker, dispatcher, order_id, email)
    return (get_backend().order(order_id) if ok else None), events


class OrderAction(Action, ABC):
    """An action on the shopper's own order: `act` runs only once the order id and the email on it match."""

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
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
