"""Every routing rule of the dialogue: what the bot does with a message, given its `Understanding` and the
conversation so far. Pure decisions, no side effects; the engine only carries them out. Each rule has its table
rows in tests/bot/dialogue/test_policy.py.

A turn is decided in up to three steps:

1. `decide(understanding, tracker)`, in order of precedence:
   commands (`/restart`, `/consent`) -> a person has the chat -> a pending yes/no confirmation -> the active form
   (fill it; "never mind" stops it; a person asked for; a confident new task replaces it; any other message, an
   unsure one included, is a digression answered before the form asks again) -> a follow-up on the last product
   list ("cheaper?") -> a correction of the last request ("no, order 10461") -> a product query (product filters in
   the message: cards, never a "did you mean") -> "did you mean ...?" when the intent is unsure -> the domain's rule
   for the intent -> with no rule, a grounded answer. A message naming a product gets its facts, not a list.
2. `with_evidence(decision, understanding, evidence)`, only when the decision `consult`s the knowledge base (answers
   and "did you mean"): a grounded answer when the knowledge base knows (else the honest fallback); product cards
   instead when its best hit is a product and the message has no intent to go by (none, out of scope, or unsure).
3. `close(decision, understanding, tracker, fell_back)` after the turn ran: count fallbacks in a row and offer a
   person after `max_fallbacks`; offer a person once to a shopper who is clearly upset.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from bot.dialogue.domain import Domain, Rule
from bot.dialogue.tracker import DialogueTracker
from bot.dialogue.understanding import form_fills
from bot.interfaces import Evidence, Understanding

DecisionKind = Literal["restart", "consent", "nudge", "with_agent", "confirm", "form", "stop_form", "action",
                       "response", "answer", "recommend", "clarify", "fallback"]
DETAILS_QUESTION = re.compile(r"\b(?:how much|price|cost|costs|in stock|available|availability|sold out|colou?rs?|"
                              r"rated|rating)\b", re.IGNORECASE)
STOP_WORDS = re.compile(r"^\s*(?:no|nope|stop|cancel that|never ?mind|forget it|not now|no thanks)\b[\s.!]*$",
                        re.IGNORECASE)
PRICE_LIMITS = frozenset({"price", "price_range"})   # filters only a search has
REFERS_BACK = re.compile(r"\b(?:it|this|that|this one|that one|them|these|those)\b", re.IGNORECASE)
UNCOUNTED = frozenset({"restart", "consent", "nudge", "with_agent"})   # outside the dialogue: nothing counted
# what reviewers say of a product: "does the Spire TR run small?", "is it actually waterproof?", "any complaints?"
REVIEW_QUESTION = re.compile(r"\b(?:reviews?|reviewers?|reviewed|(?:people|customers|buyers|others|anyone) "
                             r"(?:say|said|think|thought|complain\w*)|any complaints|true to size|runs? (?:small|large|"
                             r"big)|(?:really|actually|truly) (?:waterproof|water ?proof))\b", re.IGNORECASE)
REVIEW_ABOUT = frozenset({None, "oos", "inform", "product_question", "stock_availability", "complaint",
                          "product_search", "product_recommendation", "product_comparison"})


@dataclass(frozen=True)
class Decision:
    """What to run this turn."""

    kind: DecisionKind
    name: str | None = None              # the action, response or form
    then: str | None = None              # the action after a form (or after stopping one)
    activate: bool = False               # a new form (or a form started again after a correction)
    resume_form: str | None = None       # a digression: answer it, then ask the form's slot again
    options: tuple[str, ...] = ()        # the intents a "did you mean" offers
    confirmed: bool | None = None
    fills: Mapping[str, Any] = field(default_factory=dict)   # slot values for the form
    corrected: tuple[str, ...] = ()      # slots this message changed: acknowledged before the result
    sets: tuple[tuple[str, Any], ...] = ()   # slots set before running
    consult: bool = False                # search the knowledge base, then `Policy.with_evidence`


@dataclass(frozen=True)
class Closing:
    """What follows the turn's reply: slots to set, then responses to say."""

    sets: tuple[tuple[str, Any], ...] = ()
    responses: tuple[str, ...] = ()


RECOMMEND = Decision("recommend", "action_recommend_products")
ANSWER = Decision("answer", consult=True)
FALLBACK = Decision("fallback", "utter_fallback")


class Policy:
    """Rules from the domain plus the conversational behaviour every store wants."""

    def __init__(self, domain: Domain, ask_below: float = 0.6, handoff_sentiment: float = 0.9,
                 max_fallbacks: int = 2):
        self.domain = domain
        self.ask_below = ask_below
        self.handoff_sentiment = handoff_sentiment
        self.max_fallbacks = max_fallbacks

    # -- 1. the decision ------------------------------------------------------------------------------------

    def decide(self, u: Understanding, tracker: DialogueTracker) -> Decision:
        """The decision for this message."""
        decision = self._route(u, tracker)
        if u.named_product is not None and decision.kind not in UNCOUNTED:
            if decision.kind == "recommend" and not u.list_request:
                # "tell me about the Tern Road Runner 3": its own facts, not a list (but "similar to ..." is a list)
                decision = replace(ANSWER, resume_form=decision.resume_form)
            elif u.list_request and decision.kind in ("answer", "clarify"):
                # "compare the X and the Y", "similar to the X" whatever the intent guessed: products, from the records
                decision = replace(RECOMMEND, resume_form=decision.resume_form)
            decision = replace(decision, sets=(("product", u.named_product.id), *decision.sets))
        return decision

    def _route(self, u: Understanding, tracker: DialogueTracker) -> Decision:
        if u.command is not None:
            return Decision(u.command)
        if tracker.paused:  # a person has this chat: the bot stays quiet
            return Decision("with_agent")
        awaiting = tracker.slots.get("awaiting_confirmation")
        if awaiting and u.intent_name in ("affirm", "deny"):
            return Decision("confirm", awaiting, confirmed=u.intent_name == "affirm",
                            sets=(("confirmed", u.intent_name == "affirm"),))
        handoff = self.domain.rule_for("human_handoff")
        if tracker.slots.get("person_offered") and u.intent_name == "affirm" and handoff and handoff.then:
            return Decision("action", handoff.then)   # "yes" to "a person can take over if you like"
        if tracker.active_loop is not None:
            return self._in_form(u, tracker, tracker.active_loop)
        if u.follow_up:
            return RECOMMEND
        return self._correction(u, tracker) or self._review_question(u, tracker) or self._product_query(u, tracker) \
            or self._clarify(u) \
            or self._new_task(u, tracker) or self._simple(u, tracker)

    def _in_form(self, u: Understanding, tracker: DialogueTracker, form: str) -> Decision:
        """Inside a form: fill it, stop it, replace it with a confident new task, or answer a digression."""
        rule = self._rule(u)
        if u.intent_name == "human_handoff":
            return Decision("stop_form", form, then=rule.then if rule else None)
        if u.fills or u.intent_name in ("inform", "affirm"):
            answered = tracker.slots.get("requested_slot")   # the answer to the question asked is not a correction
            corrected = tuple(s for s in _changed(u.fills, tracker.slots) if s != answered)
            return Decision("form", form, fills=u.fills, corrected=corrected)
        if u.intent_name == "deny" or STOP_WORDS.match(u.text):
            return Decision("stop_form", form)
        unsure = self._unsure(u)
        if not unsure and rule is not None and rule.form is not None and \
                rule.then != tracker.slots.get("goal_action"):
            return self._activate(rule.form, rule.then, u, tracker)  # a new task replaces the form
        if unsure or rule is not None or u.intent_name == "oos":
            return replace(self._digression(u, tracker, unsure), resume_form=form)
        return Decision("form", form)   # nothing for the form: it asks its slot again

    def _digression(self, u: Understanding, tracker: DialogueTracker, unsure: bool) -> Decision:
        """A question inside a form, answered before the form asks again. An unsure one ("hang on, do I have to
        pay for the return label?", refund_status at 0.36) is answered from the knowledge base: it never starts
        the task its intent guessed."""
        if u.follow_up:
            return RECOMMEND
        return self._product_query(u, tracker) or (ANSWER if unsure else self._simple(u, tracker))

    def _correction(self, u: Understanding, tracker: DialogueTracker) -> Decision | None:
        """"no, order 10461" after a request: the last request again, with the corrected slot."""
        goal = tracker.slots.get("goal_action")
        if not goal or not self._mentions_an_order(u):
            return None
        rule = self._rule(u)
        vague = rule is None or u.intent_name in ("inform", "deny") or rule.answer or self._unsure(u)
        if not vague and not _repeats_a_value(u, tracker.slots):   # a confident request of its own
            return None
        goal_form = next((r.form for r in self.domain.rules if r.then == goal and r.form), None)
        if goal_form is None:
            return None
        decision = self._activate(goal_form, goal, u, tracker)
        return replace(decision, corrected=_changed(decision.fills, tracker.slots))

    def _review_question(self, u: Understanding, tracker: DialogueTracker) -> Decision | None:
        """A question about what reviewers say of a product (named, or the one just discussed) gets the reviews
        rule when the NLU took it for another product question (or none): its words say so."""
        rule = self.domain.rule_for("product_reviews")
        if rule is None or rule.then is None or u.intent_name not in REVIEW_ABOUT or not REVIEW_QUESTION.search(u.text):
            return None
        if u.named_product is None and not tracker.slots.get("product"):
            return None
        return Decision("action", rule.then)

    def _product_query(self, u: Understanding, tracker: DialogueTracker) -> Decision | None:
        """Product filters make a message a search, shown as cards, never a "did you mean": with no intent (or an
        unsure one that may be about products) any filter does; a confident question about products ("is the blue
        rain jacket warm?") only with a price limit ("a warmer winter boot under $200 in size 8?"), since nobody
        asks a fact "under $200". Not when it names a product or asks about the one just discussed ("is it
        available in blue?")."""
        if not u.product_filters or u.named_product is not None or self._mentions_an_order(u):
            return None
        if tracker.slots.get("product") and REFERS_BACK.search(u.text):
            return None
        if u.intent_name in (None, "oos"):
            return RECOMMEND
        if self._unsure(u):
            return RECOMMEND if any(self._about_products(s.name) for s in u.ranking[:2]) else None
        priced = any(f in PRICE_LIMITS for f in u.product_filters)
        return RECOMMEND if priced and self._about_products(u.intent_name) else None

    def _clarify(self, u: Understanding) -> Decision | None:
        """"Did you mean ...?" with the two likeliest intents when the NLU is unsure (unless the knowledge base's best
        match is a product: `with_evidence`)."""
        if not self._unsure(u) or u.intent_name in (None, "oos"):
            return None
        options = tuple(s.name for s in u.ranking if s.name is not None and s.name != "oos")[:2]
        return Decision("clarify", options=options, consult=True) if len(options) == 2 else None

    def _new_task(self, u: Understanding, tracker: DialogueTracker) -> Decision | None:
        """An intent whose rule has a form: the form starts, with what the message already gives it."""
        rule = self._rule(u)
        if rule is None or rule.form is None:
            return None
        return self._activate(rule.form, rule.then, u, tracker)

    def _activate(self, form: str, then: str | None, u: Understanding, tracker: DialogueTracker) -> Decision:
        fills = form_fills(self.domain, form, u.entities, u.text, tracker.slots, from_text=False)
        return Decision("form", form, then=then, activate=True, fills=fills)

    def _simple(self, u: Understanding, tracker: DialogueTracker) -> Decision:
        """Decisions that need no form: responses, actions, answers, recommendations."""
        rule = self._rule(u)
        if rule is None:  # out of scope, or an intent without a rule: the knowledge base answers if it knows
            return ANSWER
        if rule.response is not None:
            return Decision("response", rule.response)
        if rule.then is not None:
            return Decision("action", rule.then)
        if rule.recommend:
            return RECOMMEND
        product_known = u.named_product is not None or bool(tracker.slots.get("product"))
        if rule.details is not None and product_known and DETAILS_QUESTION.search(u.text):
            return Decision("action", rule.details)
        return ANSWER

    # -- 2. with what the knowledge base holds ------------------------------------------------------------------

    def with_evidence(self, decision: Decision, u: Understanding, evidence: Evidence | None) -> Decision:
        """A `consult` decision once the knowledge base was searched (`evidence` None: this store has none)."""
        if decision.kind == "clarify":
            strong_product = evidence is not None and evidence.knows and evidence.best_kind == "product" and \
                evidence.can_recommend
            # a search the knowledge base has nothing else for ("cheapest HDMI cable", product_search unsure): the
            # search says honestly what the store has, rather than "did you mean"
            searching = evidence is not None and evidence.can_recommend and not evidence.knows and \
                self._recommends(u.intent_name)
            if u.named_product is not None and not u.list_request and evidence is not None:
                settled = Decision("answer")   # "tell me about the Caribou Boot", intent unsure: its own facts
            else:
                settled = RECOMMEND if strong_product or searching else replace(decision, consult=False)
        else:
            settled = self._grounded(u, evidence)
        return replace(settled, resume_form=decision.resume_form, sets=decision.sets)

    @staticmethod
    def _grounded(u: Understanding, evidence: Evidence | None) -> Decision:
        if evidence is None:
            return FALLBACK
        if u.named_product is not None:  # its own record is the source
            return Decision("answer")
        if not evidence.knows:
            return FALLBACK
        if evidence.best_kind == "product" and evidence.can_recommend and u.intent_name in (None, "oos"):
            return RECOMMEND  # no intent to go by: the best hit is a product, so show products
        return Decision("answer")

    # -- 3. after the reply ---------------------------------------------------------------------------------------

    def close(self, decision: Decision, u: Understanding, tracker: DialogueTracker, fell_back: bool) -> Closing:
        """Fallbacks in a row (a person offered after `max_fallbacks`), and a person offered once to an upset
        shopper; `tracker` is the conversation after the turn ran."""
        if decision.kind in UNCOUNTED:
            return Closing()
        sets: list[tuple[str, Any]] = []
        responses: list[str] = []
        fallbacks = int(tracker.slots.get("fallbacks_in_a_row") or 0)
        was_offered = bool(tracker.slots.get("person_offered"))
        if fell_back:
            sets.append(("fallbacks_in_a_row", fallbacks + 1))
            if fallbacks + 1 >= self.max_fallbacks and not tracker.paused:
                responses.append("utter_offer_handoff")
        elif fallbacks:
            sets.append(("fallbacks_in_a_row", 0))
        if self._upset(u) and not tracker.paused and not tracker.slots.get("handoff_offered") and not responses:
            sets.append(("handoff_offered", True))
            responses.append("utter_sorry_upset")
        if responses:   # a person offered: a "yes" to the next message hands off
            sets.append(("person_offered", True))
        elif was_offered:
            sets.append(("person_offered", None))
        return Closing(tuple(sets), tuple(responses))

    # -- what the rules look at ---------------------------------------------------------------------------------

    def _rule(self, u: Understanding) -> Rule | None:
        return self.domain.rule_for(u.intent_name) if u.intent_name else None

    def _unsure(self, u: Understanding) -> bool:
        return u.source == "nlu" and u.intent.confidence < self.ask_below

    def _upset(self, u: Understanding) -> bool:
        return u.sentiment is not None and u.sentiment.label == "negative" and \
            u.sentiment.score >= self.handoff_sentiment

    def _mentions_an_order(self, u: Understanding) -> bool:
        return any(e["entity"] in self.domain.form_entities() for e in u.entities)

    def _recommends(self, intent: str | None) -> bool:
        rule = self.domain.rule_for(intent) if intent else None
        return rule is not None and rule.recommend

    def _about_products(self, intent: str | None) -> bool:
        rule = self.domain.rule_for(intent) if intent else None
        return rule is not None and (rule.recommend or rule.details is not None)


def _changed(fills: Mapping[str, Any], slots: Mapping[str, Any]) -> tuple[str, ...]:
    """The slots a message sets to a value other than the one they hold (a correction, not a first answer)."""
    return tuple(name for name, value in fills.items()
                 if slots.get(name) not in (None, "") and str(slots.get(name)) != str(value))


def _repeats_a_value(u: Understanding, slots: Mapping[str, Any]) -> bool:
    """"the order number is 10441 not 10414": one entity named twice, once with a slot's current value."""
    current = {str(v) for v in slots.values() if isinstance(v, str) and v}
    for entity in {e["entity"] for e in u.entities}:
        values = {str(v) for v in u.entity_values(entity)}
        if values & current and values - current:
            return True
    return False
