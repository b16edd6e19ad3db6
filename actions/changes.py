"""Changes to an order before it ships: cancelling (after the shopper confirms) and a new delivery address."""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.orders import items_line
from actions.services import get_backend
from actions.store_backend import ADDRESS_CHANGEABLE, CANCELLABLE
from actions.verification import OrderAction

CONFIRM_BUTTONS = [{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}]
SHIPPED = "It has already shipped, so it can't be changed; once it arrives you can return it within 30 days."
ADDRESS_HELP = ("I need the full address on one line: street, city, state and ZIP code, country (for example: "
                "12 Oak St, Portland, OR 97209, United States).")


def ask_confirmation(dispatcher: CollectingDispatcher, action: str, question: str) -> list[EventType]:
    """Ask yes/no; the engine runs `action` again with the `confirmed` slot set from the answer."""
    dispatcher.utter_message(text=question, buttons=CONFIRM_BUTTONS)
    return [SlotSet("awaiting_confirmation", action), SlotSet("confirmed", None)]


def confirmation(tracker: Tracker, action: str) -> bool | None:
    """The shopper's yes (True) or no (False) to the question `action` asked; None when it has not asked yet."""
    return tracker.get_slot("confirmed") if tracker.get_slot("awaiting_confirmation") == action else None


def confirmation_done() -> list[EventType]:
    return [SlotSet("awaiting_confirmation", None), SlotSet("confirmed", None)]


class ActionCancelOrder(OrderAction):
    """Cancel an order that has not shipped, once the shopper says yes."""

    def name(self) -> str:
        return "action_cancel_order"

    def refused(self) -> list[EventType]:
        return confirmation_done()

    def act(self, order: dict[str, Any], dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        number = order["id"]
        if order["status"] == "cancelled":
            dispatcher.utter_message(text=f"Order {number} is already cancelled.")
            return confirmation_done()
        if order["status"] not in CANCELLABLE:
            dispatcher.utter_message(text=f"Order {number} can't be cancelled. {SHIPPED}")
            return confirmation_done()
        confirmed = confirmation(tracker, self.name())
        if confirmed is None:
            return ask_confirmation(dispatcher, self.name(), f"Cancel order {number} ({items_line(order)}, "
                                                             f"${order['total']:.2f})? This can't be undone.")
        if not confirmed:
            dispatcher.utter_message(text=f"OK, order {number} stays as it is.")
            return confirmation_done()
        outcome = get_backend().cancel_order(number)
        if outcome.ok:
            dispatcher.utter_message(text=f"Order {number} is cancelled. The ${order['total']:.2f} goes back to your "
                                          "original payment method; the bank can take 5-10 business days to show it.")
        else:
            dispatcher.utter_message(text=f"Order {number} can't be cancelled any more. {SHIPPED}")
        return confirmation_done()


ADDRESS = re.compile(r"^(?P<line1>[^,]+(?:,\s*(?:apt|unit|suite|#)[^,]*)?),\s*(?P<city>[^,]+),\s*"
                     r"(?:(?P<region>[A-Za-z .]+?)\s+)?(?P<postal_code>[A-Za-z0-9][A-Za-z0-9 -]{2,9}),\s*"
                     r"(?P<country>[^,]+)$", re.IGNORECASE)


def parse_address(text: str) -> dict[str, str] | None:
    """"12 Oak St, Apt 3, Portland, OR 97209, United States" -> its parts; None when a part is missing."""
    match = ADDRESS.match(" ".join(str(text or "").split()).strip(" ."))
    if not match:
        return None
    return {k: v.strip() for k, v in match.groupdict().items() if v}


class ActionChangeAddress(OrderAction):
    """Replace the delivery address of an order that has not shipped, once the shopper confirms the new one."""

    def name(self) -> str:
        return "action_change_address"

    def refused(self) -> list[EventType]:
        return confirmation_done()

    def act(self, order: dict[str, Any], dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        number = order["id"]
        if order["status"] not in ADDRESS_CHANGEABLE:
            dispatcher.utter_message(text=f"The address of order {number} can't be changed. {SHIPPED}")
            return confirmation_done() + [SlotSet("new_address", None)]
        address = parse_address(tracker.get_slot("new_address") or "")
        if address is None:
            dispatcher.utter_message(text=ADDRESS_HELP)
            return confirmation_done() + [SlotSet("new_address", None)]
        one_line = ", ".join(address.values())
        confirmed = confirmation(tracker, self.name())
        if confirmed is None:
            return ask_confirmation(dispatcher, self.name(), f"Ship order {number} to {one_line}?")
        if not confirmed:
            dispatcher.utter_message(text=f"OK, order {number} keeps its current address.")
            return confirmation_done() + [SlotSet("new_address", None)]
        outcome = get_backend().change_address(number, address)
        if outcome.ok:
            dispatcher.utter_message(text=f"Done: order {number} will ship to {one_line}.")
        else:
            dispatcher.utter_message(text=f"The address of order {number} can't be changed. {SHIPPED}")
        return confirmation_done() + [SlotSet("new_address", None)]
