"""Slot validation for the order forms (`FormValidationAction`s, as on any rasa-sdk server).

`order_id` must look like an order number; `email` like an email. Once both are set the pair is checked with the
store back-end, so a wrong pair is caught while the form is still asking, and both are asked again. A store without
an order system, or a conversation (address, order, email) out of checks, stops the form before it asks anything.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import ActiveLoop
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction

from actions.changes import ADDRESS_HELP, parse_address
from actions.services import get_backend
from actions.verification import (MAX_FAILED_CHECKS, check_identity, is_locked, normalise_email, normalise_order_id,
                                  say_locked_out, say_no_orders)


class OrderSlotValidation(FormValidationAction):
    """Validates `order_id` and `email`, then the pair; subclasses name the form."""

    def name(self) -> str:
        return "validate_order_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list:
        if get_backend() is None:
            say_no_orders(dispatcher)
            return [ActiveLoop(None)]
        if is_locked(tracker, normalise_order_id(tracker.get_slot("order_id")),
                     normalise_email(tracker.get_slot("email"))):
            say_locked_out(dispatcher)
            return [ActiveLoop(None)]
        events = await super().run(dispatcher, tracker, domain)
        failures = [e["value"] for e in events if e["event"] == "slot" and e["name"] == "failed_checks"]
        if failures and int(failures[-1]) >= MAX_FAILED_CHECKS:  # the last try failed: stop asking
            return events + [ActiveLoop(None)]
        return events

    def validate_order_id(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                          domain: dict[str, Any]) -> dict[str, Any]:
        order_id = normalise_order_id(value)
        if order_id is None:
            dispatcher.utter_message(text="That doesn't look like an order number: it's the 5-digit number in your "
                                          "order confirmation email, like 10482.")
            return {"order_id": None}
        return self._pair(dispatcher, tracker, order_id, tracker.get_slot("email"), "order_id")

    def validate_email(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                       domain: dict[str, Any]) -> dict[str, Any]:
        email = normalise_email(value)
        if email is None:
            dispatcher.utter_message(text="That doesn't look like an email address. Which email did you order with?")
            return {"email": None}
        return self._pair(dispatcher, tracker, normalise_order_id(tracker.get_slot("order_id")), email, "email")

    @staticmethod
    def _pair(dispatcher: CollectingDispatcher, tracker: Tracker, order_id: str | None, email: Any,
              slot: str) -> dict[str, Any]:
        value = order_id if slot == "order_id" else email
        email = normalise_email(email)
        if not order_id or not email:
            return {slot: value}
        verified = {"order_id": order_id, "email": email, "verified_order": order_id}
        backend = get_backend()
        proven = normalise_order_id(tracker.get_slot("verified_order"))
        if slot == "order_id" and backend is not None and proven and proven != order_id and backend.verify(proven, email):
            # a new order number with the email proven in this chat (it is the email on the verified order): no
            # strike when it is not theirs, just ask for that order's email
            return verified if backend.verify(order_id, email) else \
                {"order_id": order_id, "email": None, "verified_order": None}
        ok, events = check_identity(tracker, dispatcher, order_id, email)
        return verified if ok else {e["name"]: e["value"] for e in events}


class ValidateAddressForm(OrderSlotValidation):
    """The address form: the same order checks, then the new address (kept as typed; the action parses it)."""

    def name(self) -> str:
        return "validate_address_form"

    def validate_new_address(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                             domain: dict[str, Any]) -> dict[str, Any]:
        if parse_address(str(value or "")) is None:
            dispatcher.utter_message(text=ADDRESS_HELP)
            return {"new_address": None}
        return {"new_address": str(value).strip()}
