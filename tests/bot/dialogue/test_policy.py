"""Every routing rule of `bot.dialogue.policy`, as table rows: a hand-built `Understanding` and conversation in, the
expected `Decision` (or `Closing`) out. No models, no store, no actions: each row runs in well under a millisecond.
The NLU figures in the rows are what the demo store's trained parser says for those messages."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk.events import ActiveLoop, ConversationPaused, SlotSet

from bot.dialogue.domain import Domain, load_domain
from bot.dialogue.policy import ANSWER, FALLBACK, RECOMMEND, Closing, Decision, Policy
from bot.dialogue.tracker import DialogueTracker
from bot.dialogue.understanding import Understander
from bot.interfaces import Evidence, IntentScore, Sentiment, Understanding
from retrieval.documents import Product

DOMAIN: Domain = load_domain(Path(__file__).resolve().parents[3] / "knowledge_base/demo/domain.yml")
POLICY = Policy(DOMAIN, ask_below=0.6, handoff_sentiment=0.9, max_fallbacks=2)
RETURN = DOMAIN.rule_for("return_item")   # its form and action, whatever the demo's return form is called
assert RETURN is not None
BOOTS = Product("P1101", "Summit Winter Boot", "Kestrel", "Hiking Footwear", 189.0)
ROAD_RUNNER = Product("P1001", "Tern Road Runner 3", "Tern", "Running Shoes", 129.0)


def said(text: str, intent: str | None = None, confidence: float = 0.99, *others: tuple[str, float],
         source: str = "nlu", **fields: Any) -> Understanding:
    """An understanding as `Understander` would build it: `others` are the next intents of the ranking."""
    ranking = (IntentScore(intent, confidence), *(IntentScore(n, c) for n, c in others)) if intent else ()
    fields.setdefault("sentiment", Sentiment("neutral", 0.9))
    if "entities" in fields:
        fields["entities"] = tuple({"entity": k, "value": v} for k, v in fields["entities"])
    return Understanding(text, source, IntentScore(intent, confidence if intent else 0.0), ranking,  # type: ignore
                         **fields)


def button(payload_intent: str, **entities: Any) -> Understanding:
    return said(f"/{payload_intent}", payload_intent, 1.0, source="payload", entities=tuple(entities.items()))


def conversation(*events: dict[str, Any], **slots: Any) -> DialogueTracker:
    """A conversation whose events give these slots (and a form, a pause, ... when given as events)."""
    return DialogueTracker("test:policy", DOMAIN, [*(SlotSet(k, v) for k, v in slots.items()), *events])


def in_order_form(goal: str, asking: str = "order_id", **slots: Any) -> DialogueTracker:
    return conversation(ActiveLoop("order_form"), goal_action=goal, requested_slot=asking, **slots)


@pytest.fixture(autouse=True)
def demo_orders() -> None:
    """No order back-end: the policy never reaches one (this replaces the fixture of tests/bot for this module)."""
    return None


FRESH = conversation()
PAUSED = conversation(ConversationPaused())

DECISIONS = [
    # -- commands and a person in the chat
    ("restart", said("/restart", source="command", command="restart"), FRESH, Decision("restart")),
    ("consent", said("/consent", source="command", command="consent", command_event={"event": "consent"},
                     command_reply="Thanks"), FRESH, Decision("consent")),
    ("restart while a person has the chat", said("/restart", source="command", command="restart"), PAUSED,
     Decision("restart")),
    ("a person has the chat", said("is anyone there?", "oos", 0.7), PAUSED, Decision("with_agent")),
    # -- a pending confirmation
    ("yes confirms", said("yes", "affirm"), conversation(awaiting_confirmation="action_cancel_order"),
     Decision("confirm", "action_cancel_order", confirmed=True, sets=(("confirmed", True),))),
    ("no declines", said("no", "deny"), conversation(awaiting_confirmation="action_cancel_order"),
     Decision("confirm", "action_cancel_order", confirmed=False, sets=(("confirmed", False),))),
    ("another intent leaves the confirmation pending", said("hi", "greet"),
     conversation(awaiting_confirmation="action_cancel_order"), Decision("response", "utter_greet")),
    # -- the active form
    ("a person asked for stops the form", said("agent please", "human_handoff"), in_order_form("action_order_status"),
     Decision("stop_form", "order_form", then="action_handoff")),
    ("a slot value fills the form", said("10445", "inform", fills={"order_id": "10445"}),
     in_order_form("action_order_status"), Decision("form", "order_form", fills={"order_id": "10445"})),
    ("inform without a value asks again", said("it's the one from monday", "inform"),
     in_order_form("action_order_status"), Decision("form", "order_form")),
    ("a changed value is a correction", said("sorry, it's 10453", "inform", fills={"order_id": "10453"}),
     in_order_form("action_order_status", "email", order_id="10454"),
     Decision("form", "order_form", fills={"order_id": "10453"}, corrected=("order_id",))),
    ("the answer to the slot asked is not a correction",
     said("12 Oak St, Portland, OR 97209, United States", "inform", fills={"new_address": "12 Oak St"}),
     conversation(ActiveLoop("address_form"), requested_slot="new_address", new_address="somewhere nice"),
     Decision("form", "address_form", fills={"new_address": "12 Oak St"})),
    ("no stops the form", said("no", "deny"), in_order_form("action_order_status"),
     Decision("stop_form", "order_form")),
    ("never mind stops the form", said("never mind", "oos", 0.8), in_order_form("action_order_status"),
     Decision("stop_form", "order_form")),
    ("a confident new task replaces the form", said("actually, track my package", "track_shipment", 0.97),
     in_order_form("action_cancel_order"),
     Decision("form", "order_form", then="action_track_shipment", activate=True)),
    ("defect: an unsure question inside a form is answered and the form kept",
     said("hang on, do I have to pay for the return label?", "refund_status", 0.3584, ("refund_policy", 0.3442),
          ("return_item", 0.2454)),
     in_order_form("action_start_return"), replace(ANSWER, resume_form="order_form")),
    ("an unsure question naming a form's task still does not start it",
     said("and my refund?", "refund_status", 0.55, ("refund_policy", 0.4)), in_order_form("action_start_return"),
     replace(ANSWER, resume_form="order_form")),
    ("a confident question is a digression", said("wait, how long do refunds take?", "refund_policy", 0.98),
     in_order_form("action_start_return"), replace(ANSWER, resume_form="order_form")),
    ("a greeting inside a form", said("hello", "greet"), in_order_form("action_order_status"),
     Decision("response", "utter_greet", resume_form="order_form")),
    ("out of scope inside a form", said("what's the weather", "oos", 0.9), in_order_form("action_order_status"),
     replace(ANSWER, resume_form="order_form")),
    ("without NLU a message that fills nothing asks again", said("do you ship to Canada?", source="none"),
     in_order_form("action_order_status"), Decision("form", "order_form")),
    ("a list follow-up inside a form", said("cheaper?", "shipping_cost", 0.44, ("product_comparison", 0.27),
                                            follow_up=True),
     in_order_form("action_order_status"), replace(RECOMMEND, resume_form="order_form")),
    ("a product query inside a form",
     said("any boots under $200?", "stock_availability", 0.8, entities=(("price_range", {"max": 200.0}),),
          product_filters=("price_range",)),
     in_order_form("action_order_status"), replace(RECOMMEND, resume_form="order_form")),
    # -- the last product list
    ("defect: cheaper? refines the last list", said("cheaper?", "shipping_cost", 0.4428, ("product_comparison", 0.2713),
                                                    follow_up=True), FRESH, RECOMMEND),
    # -- corrections of the last request
    ("a corrected order number runs the last request again",
     said("no, order 10461", "inform", 0.9, entities=(("order_id", "10461"),)),
     conversation(goal_action="action_order_status", order_id="10439", verified_order="10439"),
     Decision("form", "order_form", then="action_order_status", activate=True, fills={"order_id": "10461"},
              corrected=("order_id",))),
    ("defect: a correction naming the wrong number is acknowledged and keeps the request",
     said("no sorry, the order number is 10441 not 10414", "order_status", 0.8725, ("change_order", 0.05),
          entities=(("order_id", "10441"), ("order_id", "10414"))),
     conversation(goal_action=RETURN.then, order_id="10414", email="a@example.com"),
     Decision("form", RETURN.form, then=RETURN.then, activate=True, fills={"order_id": "10441"},
              corrected=("order_id",))),
    ("the wrong number first: the other one is meant",
     said("not 10414, it's 10441", "inform", 0.9, entities=(("order_id", "10414"), ("order_id", "10441"))),
     conversation(goal_action="action_order_status", order_id="10414"),
     Decision("form", "order_form", then="action_order_status", activate=True, fills={"order_id": "10441"},
              corrected=("order_id",))),
    ("an unsure request with an order number corrects the last one",
     said("what about order 10453?", "cancel_order", 0.5034, ("change_order", 0.2369),
          entities=(("order_id", "10453"),)),
     conversation(goal_action="action_order_status", order_id="10445", verified_order="10445"),
     Decision("form", "order_form", then="action_order_status", activate=True, fills={"order_id": "10453"},
              corrected=("order_id",))),
    ("a confident new request with an order number is its own task",
     said("cancel order 10453", "cancel_order", 0.97, entities=(("order_id", "10453"),)),
     conversation(goal_action="action_order_status", order_id="10445"),
     Decision("form", "order_form", then="action_cancel_order", activate=True, fills={"order_id": "10453"})),
    ("a confident new request repeating the email is its own task",
     said("cancel order 10441, my email is a@example.com", "cancel_order", 0.97,
          entities=(("order_id", "10441"), ("email", "a@example.com"))),
     conversation(goal_action="action_order_status", order_id="10414", email="a@example.com"),
     Decision("form", "order_form", then="action_cancel_order", activate=True,
              fills={"order_id": "10441", "email": "a@example.com"})),
    # -- product queries never get a "did you mean"
    ("defect: a product query with filters gets cards",
     said("do you have a warmer winter boot under $200 in size 8?", "stock_availability", 0.7134,
          ("product_search", 0.2482), entities=(("price_range", {"min": None, "max": 200.0}), ("size", "8")),
          product_filters=("price_range", "size")), FRESH, RECOMMEND),
    ("an unsure product query gets cards, not a menu",
     said("boots under $200 in size 8", "stock_availability", 0.45, ("product_search", 0.4),
          entities=(("size", "8"),), product_filters=("size",)), FRESH, RECOMMEND),
    ("a confident product fact question with a colour is answered",
     said("is the blue rain jacket warm?", "product_question", 0.9989, entities=(("color", "blue"),),
          product_filters=("color",)), FRESH, ANSWER),
    ("a confident product fact question with a brand is answered",
     said("are Kestrel jackets waterproof?", "product_question", 0.994, entities=(("brand", "Kestrel"),),
          product_filters=("brand",)), FRESH, ANSWER),
    ("a confident question with a price limit is a search",
     said("any jackets under $100 that are warm?", "product_question", 0.9, entities=(("price_range", {"max": 100.0}),),
          product_filters=("price_range",)), FRESH, RECOMMEND),
    ("filters without a model get cards", said("anything under $50 in black", source="none",
                                               entities=(("color", "black"),), product_filters=("color",)),
     FRESH, RECOMMEND),
    ("an unsure non-product question with a price still gets the menu",
     said("how much is shipping on orders under $50?", "shipping_cost", 0.5, ("delivery_time", 0.3),
          entities=(("price_range", {"max": 50.0}),), product_filters=("price_range",)),
     FRESH, Decision("clarify", options=("shipping_cost", "delivery_time"), consult=True)),
    ("a confident non-product question with a price is answered",
     said("is shipping free over $50?", "shipping_cost", 0.95, entities=(("price_range", {"min": 50.0}),),
          product_filters=("price_range",)), FRESH, ANSWER),
    ("filters about the product just discussed ask for its details",
     said("is it available in blue?", "stock_availability", 0.9, entities=(("color", "blue"),),
          product_filters=("color",)), conversation(product="P1001"), Decision("action", "action_product_details")),
    ("filters with an order number are about the order",
     said("return the size 8 boots from 10446", "return_item", 0.9,
          entities=(("size", "8"), ("order_id", "10446")), product_filters=("size",)),
     FRESH, Decision("form", RETURN.form, then=RETURN.then, activate=True, fills={"order_id": "10446"})),
    # -- did you mean
    ("an unsure intent asks did you mean", said("shipping", "shipping_cost", 0.4965, ("delivery_time", 0.3142)),
     FRESH, Decision("clarify", options=("shipping_cost", "delivery_time"), consult=True)),
    ("out of scope is never offered", said("hmm", "greet", 0.5, ("oos", 0.3), ("thanks", 0.1)), FRESH,
     Decision("clarify", options=("greet", "thanks"), consult=True)),
    ("one option only: the rule decides", said("shipping", "shipping_cost", 0.5, ("oos", 0.5)), FRESH, ANSWER),
    ("a button is never unsure", said("/shipping_cost", "shipping_cost", 0.3, ("delivery_time", 0.2),
                                      source="payload"), FRESH, ANSWER),
    # -- the domain's rules
    ("a form rule starts its form with the values given",
     button("order_status", order_id="10445"), FRESH,
     Decision("form", "order_form", then="action_order_status", activate=True, fills={"order_id": "10445"})),
    ("a response rule", said("hi there", "greet"), FRESH, Decision("response", "utter_greet")),
    ("an action rule", said("I want to talk to a human", "human_handoff"), FRESH, Decision("action", "action_handoff")),
    ("yes to a person offered hands off", said("yes please", "affirm"), conversation(person_offered=True),
     Decision("action", "action_handoff")),
    ("yes with no offer open is not a handoff", said("yes please", "affirm"), FRESH, Decision("response", "utter_ok")),
    ("a confirmation asked comes first", said("yes", "affirm"),
     conversation(person_offered=True, awaiting_confirmation="action_cancel_order"),
     Decision("confirm", "action_cancel_order", confirmed=True, sets=(("confirmed", True),))),
    ("a recommend rule", said("show me running shoes", "product_search", 0.99), FRESH, RECOMMEND),
    ("a details question about the product just discussed", said("how much is it?", "product_question"),
     conversation(product="P1001"), Decision("action", "action_product_details")),
    ("a product question with no product known", said("are your shoes vegan?", "product_question"), FRESH, ANSWER),
    ("an answer rule", said("do you ship to Canada?", "international_shipping"), FRESH, ANSWER),
    ("out of scope", said("what's the weather in Paris", "oos", 0.9), FRESH, ANSWER),
    ("no NLU: the knowledge base decides", said("do you ship to Canada?", source="none"), FRESH, ANSWER),
    # -- a named product
    ("a named product gets its facts, not a list",
     said("tell me about the Tern Road Runner 3", "product_search", 0.9, named_product=ROAD_RUNNER),
     FRESH, replace(ANSWER, sets=(("product", "P1001"),))),
    ("similar to a named product is a list",
     said("something like the Tern Road Runner 3", "product_search", 0.9, named_product=ROAD_RUNNER,
          list_request=True), FRESH, replace(RECOMMEND, sets=(("product", "P1001"),))),
    ("a named product is remembered whatever is decided", said("hi, Summit Winter Boot", "greet", named_product=BOOTS),
     FRESH, Decision("response", "utter_greet", sets=(("product", "P1101"),))),
    ("a named product with filters is about that product",
     said("is the Tern Road Runner 3 available in size 9?", "stock_availability", 0.97, named_product=ROAD_RUNNER,
          entities=(("size", "9"),), product_filters=("size",)),
     FRESH, Decision("action", "action_product_details", sets=(("product", "P1001"),))),
]


@pytest.mark.parametrize("understanding,tracker,expected", [row[1:] for row in DECISIONS],
                         ids=[row[0] for row in DECISIONS])
def test_decide(understanding: Understanding, tracker: DialogueTracker, expected: Decision) -> None:
    assert POLICY.decide(understanding, tracker) == expected


FAQ = Evidence(("faq-hit",), knows=True, best_kind="faq", can_recommend=True)   # type: ignore[arg-type]
PRODUCT_HIT = Evidence(("product-hit",), knows=True, best_kind="product", can_recommend=True)  # type: ignore[arg-type]
WEAK = Evidence(("weak-hit",), knows=False, best_kind="faq", can_recommend=True)  # type: ignore[arg-type]
CLARIFY = Decision("clarify", options=("shipping_cost", "delivery_time"), consult=True)

EVIDENCE = [
    ("the knowledge base knows: a grounded answer", ANSWER, said("do you ship to Canada?", "international_shipping"),
     FAQ, Decision("answer")),
    ("it does not know: the honest fallback", ANSWER, said("what's the weather", "oos", 0.9), WEAK, FALLBACK),
    ("no knowledge base: the fallback", ANSWER, said("do you ship to Canada?", "international_shipping"), None,
     FALLBACK),
    ("a named product is answered from its own record", ANSWER,
     said("is the Tern Road Runner 3 waterproof?", "product_question", named_product=ROAD_RUNNER), WEAK,
     Decision("answer")),
    ("no intent and the best hit a product: cards", ANSWER, said("waterproof jackets", source="none"), PRODUCT_HIT,
     RECOMMEND),
    ("out of scope and the best hit a product: cards", ANSWER, said("rain gear", "oos", 0.8), PRODUCT_HIT, RECOMMEND),
    ("a product question whose best hit is a product: an answer", ANSWER,
     said("are the jackets waterproof?", "product_question"), PRODUCT_HIT, Decision("answer")),
    ("no recommender: an answer", ANSWER, said("waterproof jackets", source="none"),
     replace(PRODUCT_HIT, can_recommend=False), Decision("answer")),
    ("a digression keeps its form through the fallback", replace(ANSWER, resume_form="order_form"),
     said("what's the weather", "oos", 0.9), WEAK, replace(FALLBACK, resume_form="order_form")),
    ("slots to set are kept", replace(ANSWER, sets=(("product", "P1001"),)),
     said("tell me about the Tern Road Runner 3", "product_search", named_product=ROAD_RUNNER), WEAK,
     Decision("answer", sets=(("product", "P1001"),))),
    ("did you mean stays when the best hit is not a product", CLARIFY,
     said("shipping", "shipping_cost", 0.4965, ("delivery_time", 0.3142)), FAQ, replace(CLARIFY, consult=False)),
    ("did you mean becomes cards when the best hit is a product", CLARIFY,
     said("warm boots", "shipping_cost", 0.45, ("delivery_time", 0.3)), PRODUCT_HIT, RECOMMEND),
    ("did you mean stays when nothing is close", CLARIFY,
     said("warm boots", "shipping_cost", 0.45, ("delivery_time", 0.3)), replace(PRODUCT_HIT, knows=False),
     replace(CLARIFY, consult=False)),
]


@pytest.mark.parametrize("decision,understanding,evidence,expected", [row[1:] for row in EVIDENCE],
                         ids=[row[0] for row in EVIDENCE])
def test_with_evidence(decision: Decision, understanding: Understanding, evidence: Evidence | None,
                       expected: Decision) -> None:
    assert POLICY.with_evidence(decision, understanding, evidence) == expected


CALM = said("hmm", "oos", 0.9)
UPSET = said("this is ridiculous", "complaint", 0.9, sentiment=Sentiment("negative", 0.97))

CLOSINGS = [
    ("a first fallback is counted", ANSWER, CALM, FRESH, True, Closing((("fallbacks_in_a_row", 1),))),
    ("a second fallback in a row offers a person", ANSWER, CALM, conversation(fallbacks_in_a_row=1), True,
     Closing((("fallbacks_in_a_row", 2), ("person_offered", True)), ("utter_offer_handoff",))),
    ("no offer once a person has the chat", ANSWER, CALM, conversation(ConversationPaused(), fallbacks_in_a_row=1),
     True, Closing((("fallbacks_in_a_row", 2),))),
    ("an answer resets the count", ANSWER, CALM, conversation(fallbacks_in_a_row=1), False,
     Closing((("fallbacks_in_a_row", 0),))),
    ("nothing to count", ANSWER, CALM, FRESH, False, Closing()),
    ("an upset shopper is offered a person once", ANSWER, UPSET, FRESH, False,
     Closing((("handoff_offered", True), ("person_offered", True)), ("utter_sorry_upset",))),
    ("the turn after an offer closes it", ANSWER, CALM, conversation(person_offered=True), False,
     Closing((("person_offered", None),))),
    ("not twice", ANSWER, UPSET, conversation(handoff_offered=True), False, Closing()),
    ("mildly negative is not upset", ANSWER, said("meh", "complaint", 0.9, sentiment=Sentiment("negative", 0.6)),
     FRESH, False, Closing()),
    ("one offer a turn: the fallback's", ANSWER, UPSET, conversation(fallbacks_in_a_row=1), True,
     Closing((("fallbacks_in_a_row", 2), ("person_offered", True)), ("utter_offer_handoff",))),
    ("no offer when a person has the chat", ANSWER, UPSET, PAUSED, False, Closing()),
    ("nothing after a restart", Decision("restart"), UPSET, FRESH, True, Closing()),
    ("nothing while a person has the chat", Decision("with_agent"), UPSET, PAUSED, False, Closing()),
]


@pytest.mark.parametrize("decision,understanding,tracker,fell_back,expected", [row[1:] for row in CLOSINGS],
                         ids=[row[0] for row in CLOSINGS])
def test_close(decision: Decision, understanding: Understanding, tracker: DialogueTracker, fell_back: bool,
               expected: Closing) -> None:
    assert POLICY.close(decision, understanding, tracker, fell_back) == expected


# -- the understanding the rows stand for (no models: button payloads and commands) ------------------------------

UNDERSTANDER = Understander(DOMAIN)


def understand(text: str, tracker: DialogueTracker = FRESH) -> Understanding:
    import asyncio

    return asyncio.run(UNDERSTANDER.understand(text, "test", 1_700_000_000.0, tracker))


def test_a_button_payload_is_a_sure_intent_with_its_entities() -> None:
    u = understand('/order_status{"order_id": "10445"}')
    assert (u.source, u.intent, u.entity_values("order_id")) == ("payload", IntentScore("order_status", 1.0), ["10445"])
    assert u.parse_data["source"] == "payload" and u.parse_data["intent"] == {"name": "order_status", "confidence": 1.0}


def test_an_unknown_payload_and_plain_text_without_nlu_have_no_intent() -> None:
    assert understand("/no_such_intent").source == "none" and understand("hello").intent_name is None


def test_commands_are_never_parsed() -> None:
    restart, consent, bad = understand("/restart"), understand('/consent{"transcript": true}'), \
        understand('/consent{"nonsense": 1}')
    assert (restart.command, restart.source) == ("restart", "command")
    assert consent.command == "consent" and consent.command_event is not None
    assert consent.command_event["granted"] == ["transcript"]
    assert bad.command == "consent" and bad.command_event is None and "couldn't read" in bad.command_reply


def test_form_fills_come_from_the_active_form_once() -> None:
    asking_email = in_order_form("action_order_status", "email", order_id="10414")
    assert understand('/inform{"email": "a@example.com"}', asking_email).fills == {"email": "a@example.com"}
    assert understand('/inform{"email": "a@example.com"}').fills == {}   # no form: nothing to fill


def test_a_correction_naming_both_numbers_fills_the_new_one() -> None:
    tracker = in_order_form("action_start_return", "email", order_id="10414")
    u = replace(understand("no sorry, the order number is 10441 not 10414", tracker),
                entities=({"entity": "order_id", "value": "10414"}, {"entity": "order_id", "value": "10441"}))
    from bot.dialogue.understanding import form_fills

    assert form_fills(DOMAIN, "order_form", u.entities, u.text, tracker.slots) == {"order_id": "10441"}


def test_product_filters_are_the_entities_that_narrow_a_search() -> None:
    u = understand('/product_search{"price_range": {"max": 200}, "size": "8", "order_id": "10445"}')
    assert u.product_filters == ("price_range", "size")
