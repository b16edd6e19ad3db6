"""Slot validation for the order forms (`FormValidationAction`s, as on any rasa-sdk server).

`order_id` must look like an order number; `email` like an email. Once both are set the pair is checked with the
store back-end, so a wrong pair is caught while the form is still asking, and both are asked again. A store without
an order system, or a conversation (address, order, email) out of checks, stops the form before it asks anything.

The return form (started by `action_start_return` on an order with several items that can go back) reads which
items: a button's position or typed text, matched only against the items it offered for the verified order.
"""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import ActiveLoop
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction

from actions.changes import ADDRESS_HELP, parse_address
from actions.return_items import normalise, offer_text, position_buttons, resolve
from actions.return_labels import item_text
from actions.returns import bound_lines, clear_return, exclusions
from actions.services import get_backend
from actions.verification import (MAX_FAILED_CHECKS, check_identity, is_locked, normalise_email, normalise_order_id,
                                  say_locked_out, say_no_orders, verified_order)

STOP = re.compile(r"^(?:no|nope|none|nothing|stop|cancel|cancel that|never ?mind|forget it|not now|no thanks|"
                  r"no thank you|none of them)[\s.!]*$")


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


class ValidateReturnForm(FormValidationAction):
    """The return form: which of the offered items to return. The order is checked again first (the same checks
    and strikes as every order action); "no" or "never mind" stops the form without a return."""

    def name(self) -> str:
        return "validate_return_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list:
        stop = [ActiveLoop(None), *clear_return()]
        if get_backend() is None:
            say_no_orders(dispatcher)
            return stop
        if STOP.match(normalise(tracker.latest_message.get("text"))):
            dispatcher.utter_message(text="OK, I haven't opened a return. Anything else I can help with?")
            return stop
        order, events = verified_order(tracker, dispatcher)
        if order is None:
            return events + stop
        if bound_lines(tracker.get_slot("return_offer"), order["id"]) is None:  # offered for another order
            dispatcher.utter_message(text="Sorry, I lost track of that return. Please ask me again to start it.")
            return events + stop
        return events + await super().run(dispatcher, tracker, domain)

    def validate_return_items(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                              domain: dict[str, Any]) -> dict[str, Any]:
        backend = get_backend()
        order_id = normalise_order_id(tracker.get_slot("order_id")) or ""
        options = backend.return_options(order_id)
        offered = [options.items[n] for n in bound_lines(tracker.get_slot("return_offer"), order_id) or []
                   if n < len(options.items)]
        answer = resolve(value, offered)
        if answer.problem == "ambiguous":
            dispatcher.utter_message(text="Which one do you mean: " + " or ".join(
                f"the {item_text(i)}" for i in offered if i["line"] in answer.candidates) + "?",
                buttons=position_buttons(offered, answer.candidates))
            return {"return_items": None}
        if answer.problem:
            dispatcher.utter_message(text=f"Sorry, I couldn't tell which item you mean. The items are:\n"
                                          f"{offer_text(offered)}", buttons=position_buttons(offered))
            return {"return_items": None}
        gone = [options.items[n] for n in answer.lines if n not in options.returnable]
        if gone:  # returned from another chat since the question, or the window closed
            dispatcher.utter_message(text=(exclusions(gone) or "That can't be returned any more.") +
                                     " Which would you like to return instead?",
                                     buttons=position_buttons(offered, options.returnable))
            return {"return_items": None}
        return {"return_items": "; ".join(item_text(options.items[n]) for n in answer.lines),
                "return_selection": {"order_id": order_id, "lines": answer.lines}}
