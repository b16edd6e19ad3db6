"""Returns: open one for a delivered order inside the return window, with a return id and a label link."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.orders import describe_status, refund_timing
from actions.services import get_backend, get_policy
from actions.verification import HANDOFF_BUTTON, OrderAction, idempotency_key


class ActionStartReturn(OrderAction):
    """Open a return (or show the one already open) for a delivered order still inside the window."""

    def name(self) -> str:
        return "action_start_return"

    def act(self, order: dict[str, Any], dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        number = order["id"]
        outcome = get_backend().start_return(number, idempotency_key=idempotency_key(tracker, self.name(), number))
        days = get_policy().return_window_days
        if outcome.ok and outcome.detail:
            opened = "is already open" if outcome.reason == "already_open" else "is open"
            dispatcher.utter_message(
                text=f"Return {outcome.detail['return_id']} for order {number} {opened}. Print the prepaid label "
                     f"({outcome.detail['label_url']}), pack the items unworn with their tags, and drop the parcel at "
                     "the carrier." + refund_timing(" The refund is issued within {}."),
                json_message={"return": {"id": outcome.detail["return_id"], "label_url": outcome.detail["label_url"],
                                         "order_id": number}})
        elif outcome.reason == "window_unknown" or (outcome.reason == "window_closed" and days is None):
            dispatcher.utter_message(text=f"I don't know this store's return window, so I can't open a return for "
                                          f"order {number} here. A member of our team can help: shall I connect you?",
                                     buttons=[HANDOFF_BUTTON])
        elif outcome.reason == "window_closed":
            dispatcher.utter_message(text=f"Order {number} is outside the {days}-day return window, which ended on "
                                          f"{outcome.detail['deadline'] if outcome.detail else 'its deadline'}."
                                          + (" If an item is faulty, our warranty still covers it."
                                             if get_policy().warranty else ""))
        elif outcome.reason == "status_returned":
            dispatcher.utter_message(text=f"Order {number} has already been returned.")
        else:
            dispatcher.utter_message(text=describe_status(order) + " A return can start once it has been delivered.")
        return []
