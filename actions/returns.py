"""Returns: which items, then a yes, then a return with a return id and a working label link.

Once the order number and its email match (the order form), `action_start_return` looks at what of the order can go
back (`StoreBackend.return_options`). Items that cannot (final sale, already in a return) are left out and said so.
With several items left it asks which (one button per item and "All of them"; the answer, by button or typed name
or number, is read by the return form's validator in `actions.forms`); with one it skips the question. Either way it
then asks "Return the ... from order ... for a refund?" and opens the return only on a yes, for exactly the items the
question named: the choice lives in slots only actions set (`return_offer`, `return_selection`), bound to the order.
The return is opened with an idempotency key of the conversation, the action, the order, the items and the "yes"
message, so a retried call opens it once and shows the same return.
"""

from __future__ import annotations

import hashlib
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.changes import CONFIRM_BUTTONS, confirmation, confirmation_done
from actions.orders import describe_status, refund_timing
from actions.return_items import offer_buttons, offer_text
from actions.return_labels import item_text, label_link
from actions.services import get_backend, get_policy
from actions.store_backend import Outcome, ReturnOptions
from actions.verification import HANDOFF_BUTTON, OrderAction, idempotency_key

ACTION = "action_start_return"
RETURN_FORM = "return_form"
RETURN_SLOTS = ("return_items", "return_offer", "return_selection")


def clear_return() -> list[EventType]:
    """Forget the return being chosen (after it is opened, refused or dropped)."""
    return [SlotSet(name, None) for name in RETURN_SLOTS]


def bound_lines(value: Any, order_id: str) -> list[int] | None:
    """The lines of a `return_offer` or `return_selection` slot when it was made for this order, else None."""
    if not isinstance(value, dict) or str(value.get("order_id")) != str(order_id):
        return None
    lines = value.get("lines")
    if not isinstance(lines, list) or not lines or \
            not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in lines):
        return None
    return list(lines)


def chosen_this_turn(tracker: Tracker) -> bool:
    """Whether the return form's validator set `return_selection` after the shopper's latest message (the answer
    to the item question), as opposed to a choice left from an earlier turn."""
    events = tracker.events
    latest = max((i for i, e in enumerate(events) if e.get("event") == "user"), default=-1)
    return any(e.get("event") == "slot" and e.get("name") == "return_selection" and e.get("value")
               for e in events[latest + 1:])


def return_key(tracker: Tracker, order_id: str, lines: list[int]) -> str | None:
    """The idempotency key of opening a return: conversation, action, order and triggering message (as every change)
    plus the items."""
    base = idempotency_key(tracker, ACTION, order_id)
    if base is None:
        return None
    return hashlib.sha256(f"{base}|{','.join(map(str, sorted(lines)))}".encode("ascii")).hexdigest()


def names(items: list[dict[str, Any]]) -> str:
    """"the Northwind Winter Boot (size 10.5) ×2 and the Rally Tight (size S)" ("the items" for none)."""
    parts = [f"the {item_text(item)}" for item in items] or ["the items"]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def say_return(dispatcher: CollectingDispatcher, record: dict[str, Any], order_id: str, opened: str) -> None:
    """"Return R... for order ... is open for the ...", the label link and what to do, with the return as data."""
    items = record.get("items") or []  # an outcome recorded before returns named their items has none
    dispatcher.utter_message(
        text=f"Return {record['return_id']} for order {order_id} {opened} for {names(items)}. "
             f"Print the prepaid label ({label_link(record['label_url'])}), pack the items unworn with their tags, "
             "and drop the parcel at the carrier." + refund_timing(" The refund is issued within {}."),
        json_message={"return": {"id": record["return_id"], "order_id": order_id,
                                 "label_url": label_link(record["label_url"]),
                                 "items": [item_text(i) for i in items]}})


def exclusions(items: list[dict[str, Any]]) -> str:
    """Sentences about the order's items that cannot go back ("" when there are none)."""
    final = [i for i in items if i["why"] == "final_sale"]
    sentences = []
    if final:
        plural = len(final) > 1
        sentences.append(f"{names(final)[0].upper()}{names(final)[1:]} {'are' if plural else 'is'} final sale, so "
                         f"{'they' if plural else 'it'} can't be returned.")
    for item in (i for i in items if i["why"] == "in_return"):
        sentences.append(f"The {item_text(item)} is already in return {item['return_id']}.")
    return " ".join(sentences)


class ActionStartReturn(OrderAction):
    """Ask which items (several left), confirm them, then open the return (or show the one already open)."""

    def name(self) -> str:
        return ACTION

    def refused(self) -> list[EventType]:
        return confirmation_done() + clear_return()

    def act(self, order: dict[str, Any], dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        number = order["id"]
        done = confirmation_done() + clear_return()
        confirmed = confirmation(tracker, ACTION)
        if confirmed is False:
            dispatcher.utter_message(text=f"OK, I haven't opened a return for order {number}.")
            return done
        backend = get_backend()
        options = backend.return_options(number)
        chosen = tracker.get_slot("return_selection")
        selection = bound_lines(chosen, number)
        if confirmed:  # the yes to the question that named these items (none named: a one-item order's only item)
            single = [i["line"] for i in options.items if i["why"] != "final_sale"]  # stable when retried
            lines = selection if selection is not None else \
                single if chosen is None and len(single) == 1 else None
            if lines is not None:
                outcome = backend.start_return(number, items=lines, idempotency_key=return_key(tracker, number, lines))
                self.say_outcome(outcome, order, options, dispatcher)
                return done
        free = [item for item in options.items if item["line"] in options.returnable]
        if not free:
            self.say_nothing_returnable(order, options, dispatcher)
            return done
        note = exclusions(options.items)
        if selection is not None and chosen_this_turn(tracker) and set(selection) <= set(options.returnable):
            return self.ask_to_confirm(number, [options.items[n] for n in selection], "", dispatcher)
        if len(free) == 1:
            return self.ask_to_confirm(number, free, note, dispatcher)
        return self.ask_which(number, free, note, dispatcher)

    @staticmethod
    def ask_which(number: str, free: list[dict[str, Any]], note: str,
                  dispatcher: CollectingDispatcher) -> list[EventType]:
        """Offer the items that can go back, and start the return form to read the answer."""
        choices = offer_text(free)
        dispatcher.utter_message(text=(note + "\n\n" if note else "") +
                                 f"Which item from order {number} would you like to return?\n{choices}\n"
                                 "Tap one, or type its name or number (\"1 and 3\" for several).",
                                 buttons=offer_buttons(free))
        return [SlotSet("return_offer", {"order_id": number, "lines": [i["line"] for i in free]}),
                SlotSet("return_selection", None), SlotSet("return_items", None),
                *confirmation_done(), ActiveLoop(RETURN_FORM), SlotSet("requested_slot", "return_items"),
                SlotSet("goal_action", ACTION)]

    @staticmethod
    def ask_to_confirm(number: str, chosen: list[dict[str, Any]], note: str,
                       dispatcher: CollectingDispatcher) -> list[EventType]:
        """"Return the ... from order ... for a refund?", with the items kept for the yes."""
        dispatcher.utter_message(text=(note + " " if note else "") +
                                 f"Return {names(chosen)} from order {number} for a refund?", buttons=CONFIRM_BUTTONS)
        return [SlotSet("awaiting_confirmation", ACTION), SlotSet("confirmed", None),
                SlotSet("return_selection", {"order_id": number, "lines": [i["line"] for i in chosen]})]

    def say_outcome(self, outcome: Outcome, order: dict[str, Any], options: ReturnOptions,
                    dispatcher: CollectingDispatcher) -> None:
        """What the back-end did with the confirmed items."""
        number = order["id"]
        if outcome.ok and outcome.detail:
            say_return(dispatcher, outcome.detail, number,
                       "is already open" if outcome.reason == "already_open" else "is open")
        elif outcome.reason == "items_not_returnable":
            refused = (outcome.detail or {}).get("items") or []
            dispatcher.utter_message(text="I couldn't open that return. " + (exclusions(refused) or
                                          f"Those items of order {number} can't be returned any more."))
        elif outcome.reason == "items_unknown":
            dispatcher.utter_message(text=f"I couldn't find those items on order {number}, so no return was opened.")
        else:
            self.say_refusal(outcome.reason, order, (outcome.detail or {}).get("deadline") or options.deadline,
                             dispatcher)

    def say_nothing_returnable(self, order: dict[str, Any], options: ReturnOptions,
                               dispatcher: CollectingDispatcher) -> None:
        """Why nothing of the order can start a return now (the returns already open shown again)."""
        number = order["id"]
        if options.reason.startswith("status_") or options.reason == "not_found" or not options.returns:
            if options.reason:
                self.say_refusal(options.reason, order, options.deadline, dispatcher)
            else:
                dispatcher.utter_message(text=f"Nothing on order {number} can be returned. "
                                              + exclusions(options.items))
            return
        for record in options.returns:
            say_return(dispatcher, record, number, "is already open")
        final = [i for i in options.items if i["why"] == "final_sale"]
        if final:
            dispatcher.utter_message(text=exclusions(final))
        if options.reason and any(not i["why"] for i in options.items):  # the rest: outside the window
            self.say_refusal(options.reason, order, options.deadline, dispatcher)

    @staticmethod
    def say_refusal(reason: str, order: dict[str, Any], deadline: str | None,
                    dispatcher: CollectingDispatcher) -> None:
        """The order itself cannot be returned: not delivered, returned, outside or without a return window."""
        number, days = order["id"], get_policy().return_window_days
        if reason == "window_unknown" or (reason == "window_closed" and days is None):
            dispatcher.utter_message(text=f"I don't know this store's return window, so I can't open a return for "
                                          f"order {number} here. A member of our team can help: shall I connect you?",
                                     buttons=[HANDOFF_BUTTON])
        elif reason == "window_closed":
            dispatcher.utter_message(text=f"Order {number} is outside the {days}-day return window, which ended on "
                                          f"{deadline or 'its deadline'}."
                                          + (" If an item is faulty, our warranty still covers it."
                                             if get_policy().warranty else ""))
        elif reason == "status_returned":
            dispatcher.utter_message(text=f"Order {number} has already been returned.")
        else:
            dispatcher.utter_message(text=describe_status(order) + " A return can start once it has been delivered.")
