"""Changes to an order before it ships: cancelling (after the shopper confirms) and a new delivery address."""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.orders import items_line, order_money
from actions.services import get_backend, get_policy
from actions.store_backend import ADDRESS_CHANGEABLE, CANCELLABLE
from actions.verification import OrderAction, idempotency_key

CONFIRM_BUTTONS = [{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}]
ADDRESS_HELP = ("I need the full address on one line: street, city, state and ZIP code, country (for example: "
                "12 Oak St, Portland, OR 97209, United States).")


def shipped_note() -> str:
    """Why a shipped order cannot change, and what to do instead (the store's own return window, when it gave one)."""
    days = get_policy().return_window_days
    if days is None:
        return "It has already shipped, so it can't be changed; once it arrives, our team can help you with a return."
    return f"It has already shipped, so it can't be changed; once it arrives you can return it within {days} days."


def refund_note(order: dict[str, Any]) -> str:
    """Where a cancelled order's money goes, with the bank's timing when the store gave it."""
    bank = get_policy().bank_timing
    return f"The {order_money(order, order['total'])} goes back to your original payment method" + (f" (allow {bank})." if bank else ".")


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
        confirmed = confirmation(tracker, self.name())
        if confirmed:  # the shopper said yes: the back-end decides (a retried call repeats its key: done once)
            outcome = get_backend().cancel_order(number, idempotency_key=idempotency_key(tracker, self.name(), number))
            if outcome.ok:
                dispatcher.utter_message(text=f"Order {number} is cancelled. {refund_note(order)}")
            elif outcome.reason == "status_cancelled":
                dispatcher.utter_message(text=f"Order {number} is already cancelled.")
            else:
                dispatcher.utter_message(text=f"Order {number} can't be cancelled any more. {shipped_note()}")
            return confirmation_done()
        if order["status"] == "cancelled":
            dispatcher.utter_message(text=f"Order {number} is already cancelled.")
            return confirmation_done()
        if order["status"] not in CANCELLABLE:
            dispatcher.utter_message(text=f"Order {number} can't be cancelled. {shipped_note()}")
            return confirmation_done()
        if confirmed is None:
            total = order_money(order, order["total"])
            return ask_confirmation(dispatcher, self.name(), f"Cancel order {number} ({items_line(order)}, {total})? "
                                                             "This can't be undone.")
        dispatcher.utter_message(text=f"OK, order {number} stays as it is.")
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
        done = confirmation_done() + [SlotSet("new_address", None)]
        address = parse_address(tracker.get_slot("new_address") or "")
        confirmed = confirmation(tracker, self.name())
        if confirmed and address is not None:  # a retried call repeats its key: the change is made once
            key = idempotency_key(tracker, self.name(), number)
            outcome = get_backend().change_address(number, address, idempotency_key=key)
            if outcome.ok:
                dispatcher.utter_message(text=f"Done: order {number} will ship to {', '.join(address.values())}.")
            elif outcome.reason == "address_incomplete":
                dispatcher.utter_message(text=ADDRESS_HELP)
            else:
                dispatcher.utter_message(text=f"The address of order {number} can't be changed. {shipped_note()}")
            return done
        if order["status"] not in ADDRESS_CHANGEABLE:
            dispatcher.utter_message(text=f"The address of order {number} can't be changed. {shipped_note()}")
            return done
        if address is None:
            dispatcher.utter_message(text=ADDRESS_HELP)
            return done
        one_line = ", ".join(address.values())
        if confirmed is None:
            return ask_confirmation(dispatcher, self.name(), f"Ship order {number} to {one_line}?")
        dispatcher.utter_message(text=f"OK, order {number} keeps its current address.")
        return done
