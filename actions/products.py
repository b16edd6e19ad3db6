"""Products in chat: recommendations as cards (refining the last list on follow-ups) and one product's details.

The last list lives in the `product_state` slot, so "cheaper?" or "how much is it?" works on any action server.
Lists are personalised by what the shopper did: the storefront events they consented to (the engine passes them,
consent checked, in the latest message's `metadata.behaviour`) and, once they are verified on an order, what that
customer bought (`StoreBackend.purchases`).
"""

from __future__ import annotations

import asyncio
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.services import get_backend, get_recommender
from actions.verification import normalise_email
from retrieval.loaders.history import EVENTS
from retrieval.money import money
from retrieval.sequential.personal import Interaction

MAX_INTERACTIONS = 50  # the most recent ones a personal list is drawn from


def latest_text(tracker: Tracker) -> str:
    return str((tracker.latest_message or {}).get("text") or "")


def shopper_history(tracker: Tracker) -> list[Interaction]:
    """What this shopper did, oldest first: their verified customer's purchases, then this conversation's
    consented storefront events."""
    history: list[Interaction] = []
    verified = tracker.get_slot("verified_order")
    backend = get_backend() if verified else None
    # the slot says which order was verified; the pair is checked again (no strike: verify only reads), so a slot
    # set any other way never opens a customer's purchases
    if backend is not None and backend.verify(str(verified), normalise_email(tracker.get_slot("email")) or ""):
        history += [Interaction(line["product_id"], "purchased") for line in backend.purchases(str(verified))]
    metadata = (tracker.latest_message or {}).get("metadata") or {}
    for event in metadata.get("behaviour") or []:
        if isinstance(event, dict) and isinstance(event.get("product_id"), str) and event.get("name") in EVENTS:
            history.append(Interaction(event["product_id"], event["name"]))
    return history[-MAX_INTERACTIONS:]


class ActionRecommendProducts(Action):
    """Product cards for the shopper's request, or the last list refined ("cheaper?", "in black?")."""

    def name(self) -> str:
        return "action_recommend_products"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        text = latest_text(tracker)
        if not text.strip() or text.startswith("/"):  # a "Find a product" button: nothing to search for yet
            dispatcher.utter_message(text="What are you looking for? Tell me a kind of product, a brand or a budget, "
                                          "for example \"waterproof jackets under $150\".")
            return []
        recommendation = await asyncio.to_thread(get_recommender().recommend, text,
                                                 tracker.get_slot("product_state") or {}, shopper_history(tracker))
        dispatcher.utter_message(text=recommendation.lead,
                                 json_message={"cards": [card.to_dict() for card in recommendation.cards]})
        return [SlotSet("product_state", recommendation.state),
                SlotSet("product", recommendation.cards[0].id if len(recommendation.cards) == 1 else None)]


def asked_product(tracker: Tracker, recommender: Any) -> Any:
    """The product the message names (its `product` entity), else the conversation's `product` slot; None."""
    named = next(tracker.get_latest_entity_values("product"), None)
    product = recommender.search.resolve(str(named)) if named else None
    if product is None and tracker.get_slot("product"):
        product = recommender.search.kb.product(str(tracker.get_slot("product")))
    return product


def ask_which(dispatcher: CollectingDispatcher, recommender: Any, shown: list[str], intent: str, text: str) -> None:
    """"Which one?" with a button for each of the first four products shown, each sending `intent` with it."""
    kb = recommender.search.kb
    dispatcher.utter_message(text=text, buttons=[{"title": kb.product(i).title,
                                                  "payload": f'/{intent}{{"product": "{i}"}}'}
                                                 for i in shown[:4] if kb.product(i)])


class ActionProductDetails(Action):
    """Price, stock, rating and colours of the product the shopper names, or of the last one shown."""

    def name(self) -> str:
        return "action_product_details"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        recommender = get_recommender()
        product = asked_product(tracker, recommender)
        if product is None:
            shown = (tracker.get_slot("product_state") or {}).get("shown") or []
            if len(shown) > 1:
                ask_which(dispatcher, recommender, shown, "product_question",
                          "Which one do you mean? Tap a product or tell me its name.")
                return []
            dispatcher.utter_message(text="Which product do you mean? Tell me its name and I'll look it up.")
            return []
        if product.in_stock or product.out_of_stock:
            stock = "in stock" if product.in_stock else "out of stock at the moment"
            facts = [f"The {product.title} costs {money(product.price, product.currency)} and is {stock}."]
        else:  # the catalog gives no stock for it: unknown, not "in stock"
            facts = [f"The {product.title} costs {money(product.price, product.currency)}. "
                     "I don't have stock information for it."]
        if product.rating is not None:
            facts.append(f"It is rated {product.rating:g}/5.")
        if product.colors:
            facts.append(f"Colours: {', '.join(product.colors)}.")
        card = recommender.card(product, "")
        dispatcher.utter_message(text=" ".join(facts), json_message={"cards": [card.to_dict()]})
        return [SlotSet("product", product.id)]
