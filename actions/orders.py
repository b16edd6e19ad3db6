"""Order look-ups: status, shipment tracking and refund status, shown only after the order id and its email match.

Written with rasa-sdk: runs in-process or on a stock `python -m rasa_sdk --actions actions` server.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.services import get_backend, get_policy
from actions.verification import OrderAction
from retrieval.money import money


class ActionOrderStatus(OrderAction):
    """Where an order is: status, carrier and tracking, expected delivery."""

    def name(self) -> str:
        return "action_order_status"

    def act(self, order: dict[str, Any], dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        dispatcher.utter_message(text=describe_status(order), json_message={"order": summary(order)})
        return []


class ActionTrackShipment(OrderAction):
    """The carrier, tracking number and delivery estimate of a shipped order."""

    def name(self) -> str:
        return "action_track_shipment"

    def act(self, order: dict[str, Any], dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        if order["status"] in ("shipped", "delivered") and order.get("tracking_number"):
            text = f"Order {order['id']} is with {order.get('carrier') or 'the carrier'}: tracking number " \
                   f"{order['tracking_number']}."
            if order["status"] == "delivered":
                text += f" It was delivered on {str(order.get('delivered_at'))[:10]}."
            elif order.get("estimated_delivery"):
                text += f" Expected by {order['estimated_delivery'][:10]}."
            text += " Scans can take up to 24 hours to show after it ships."
        else:
            text = describe_status(order) + " There is no shipment to track."
        dispatcher.utter_message(text=text, json_message={"order": summary(order)})
        return []


class ActionRefundStatus(OrderAction):
    """Whether an order's refund is processing or paid, and how much, from the order and its open return."""

    def name(self) -> str:
        return "action_refund_status"

    def act(self, order: dict[str, Any], dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        number, refund = order["id"], order.get("refund") or {}
        opened = get_backend().open_return(number)
        if refund.get("status") == "refunded":
            text = f"The refund for order {number}, {order_money(order, refund['amount'])}, was issued on " \
                   f"{str(refund.get('refunded_at'))[:10]} to your original payment method."
        elif refund.get("status") == "processing":
            text = f"The refund for order {number}, {order_money(order, refund['amount'])}, is being processed." + \
                refund_timing(" Refunds are issued within {}.")
        elif opened is not None:
            text = f"Return {opened['return_id']} for order {number} is open." + \
                refund_timing(" The refund is issued within {}.")
        elif order["status"] == "cancelled":
            text = f"Order {number} was cancelled before it shipped, so nothing more was charged."
        else:
            text = f"There is no refund on order {number}; it is {order['status']}."
        dispatcher.utter_message(text=text, json_message={"order": summary(order)})
        return []


def refund_timing(sentence: str) -> str:
    """`sentence` with the store's refund timing in its `{}`; "" when the store did not say."""
    timing = get_policy().refund_timing
    return sentence.format(timing) if timing else ""


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


def order_money(order: dict[str, Any], amount: float) -> str:
    """An amount of this order's money in its currency ("$129.00", "€129.00")."""
    return money(amount, order.get("currency") or "USD")


def summary(order: dict[str, Any]) -> dict[str, Any]:
    """The fields a channel may show for an order (never the payment details or the address)."""
    keys = ("id", "status", "placed_at", "carrier", "tracking_number", "estimated_delivery", "delivered_at", "total",
            "currency")
    return {k: order.get(k) for k in keys} | {"items": [{"title": i["title"], "quantity": i.get("quantity", 1)}
                                                        for i in order.get("items", [])]}


def items_line(order: dict[str, Any]) -> str:
    """"2 items: Drizzle Cuff Beanie, Cedar Dry Sack 35" for confirmations."""
    items = order.get("items", [])
    count = sum(int(i.get("quantity", 1)) for i in items)
    return f"{count} item{'s' if count != 1 else ''}: " + ", ".join(i["title"] for i in items)
