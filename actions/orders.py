"""Order look-ups: status and tracking, shown only after the order id and the email on it match.

After `MAX_FAILED_CHECKS` failed checks in a conversation the bot stops checking and offers a human, so
order ids cannot be guessed by trying emails. Written with rasa-sdk: runs in-process or on a stock
`python -m rasa_sdk --actions actions` server.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.backend_registry import get_backend

MAX_FAILED_CHECKS = 5


def verified_order(tracker: Tracker, dispatcher: CollectingDispatcher) -> tuple[dict[str, Any] | None, list[EventType]]:
    """The order named by the `order_id` and `email` slots when they match; otherwise says why and returns None."""
    failures = int(tracker.get_slot("failed_checks") or 0)
    if failures >= MAX_FAILED_CHECKS:
        dispatcher.utter_message(text="I can't look up orders in this chat any more. A member of our team can "
                                      "help you: shall I connect you?", buttons=[
            {"title": "Talk to a person", "payload": "/human_handoff"}])
        return None, []
    order_id, email = tracker.get_slot("order_id"), tracker.get_slot("email")
    if not order_id or not email:
        dispatcher.utter_message(text="I need your order number and the email you ordered with.")
        return None, []
    backend = get_backend()
    if not backend.verify(str(order_id), str(email)):
        failures += 1
        left = MAX_FAILED_CHECKS - failures
        dispatcher.utter_message(text="That order number and email don't match an order. Please check both"
                                      + (f" ({left} tries left)." if left else "."))
        return None, [SlotSet("failed_checks", failures), SlotSet("order_id", None), SlotSet("email", None)]
    return backend.order(str(order_id)), [SlotSet("verified_order", str(order_id))]


class ActionOrderStatus(Action):
    """Where an order is: status, carrier and tracking, expected delivery."""

    def name(self) -> str:
        return "action_order_status"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        order, events = verified_order(tracker, dispatcher)
        if order is None:
            return events
        dispatcher.utter_message(text=describe_status(order), json_message={"order": summary(order)})
        return events


def describe_status(order: dict[str, Any]) -> str:
    """One or two plain sentences about an order's state, from its own fields only."""
    status, number = order["status"], order["id"]
    if status in ("placed", "paid"):
        return f"Order {number} is confirmed and being prepared; it hasn't shipped yet."
    if status == "shipped":
        eta = f" It should arrive by {order['estimated_delivery'][:10]}." if order.get("estimated_delivery") else ""
        return f"Order {number} shipped with {order.get('carrier') or 'our carrier'}, tracking number " \
               f"{order.get('tracking_number') or 'not yet available'}.{eta}"
    if status == "delivered":
        return f"Order {number} was delivered on {str(order.get('delivered_at') or '')[:10]}."
    if status == "returned":
        return f"Order {number} was returned on {str(order.get('returned_at') or '')[:10]}."
    if status == "cancelled":
        return f"Order {number} was cancelled on {str(order.get('cancelled_at') or '')[:10]}."
    return f"Order {number} is {status}."


def summary(order: dict[str, Any]) -> dict[str, Any]:
    """The fields a channel may show for an order (never the payment details or the address)."""
    keys = ("id", "status", "placed_at", "carrier", "tracking_number", "estimated_delivery", "delivered_at", "total",
            "currency")
    return {k: order.get(k) for k in keys} | {"items": [{"title": i["title"], "quantity": i["quantity"]}
                                                        for i in order.get("items", [])]}
