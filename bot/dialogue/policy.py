"""What the bot does with a message, given the conversation so far: a pure decision, no side effects.

Order of precedence: a pending yes/no confirmation; the active form (fill it, answer a digression and resume, or stop
on "never mind"); "did you mean ...?" when the intent is unsure; a correction of the last request ("no, order
10482"); a follow-up on the last product list ("cheaper?"); then the domain's rule for the intent; with no rule (or
out of scope) the knowledge base answers when it knows, else the engine gives an honest fallback.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from bot.dialogue.domain import Domain, Rule
from bot.dialogue.tracker import DialogueTracker
from retrieval.products import GOES_WITH_PATTERN, SIMILAR_PATTERN

DecisionKind = Literal["confirm", "form", "stop_form", "action", "response", "answer", "recommend", "clarify"]
DETAILS_QUESTION = re.compile(r"\b(?:how much|price|cost|costs|in stock|available|availability|sold out|colou?rs?|"
                              r"rated|rating)\b", re.IGNORECASE)
STOP_WORDS = re.compile(r"^\s*(?:no|nope|stop|cancel that|never ?mind|forget it|not now|no thanks)\b[\s.!]*$",
                        re.IGNORECASE)


@dataclass(frozen=True)
class Decision:
    """One decision: what to run, and whether a form is being resumed after a digression."""

    kind: DecisionKind
    name: str | None = None              # the action, response or form
    then: str | None = None              # the action after a form
    activate: bool = False               # a new form (or a form started again after a correction)
    resume_form: str | None = None       # answer a digression, then ask the form's slot again
    options: list[str] = field(default_factory=list)   # the intents a "did you mean" offers
    confirmed: bool | None = None


RECOMMEND = Decision("recommend", "action_recommend_products")


class Policy:
    """Rules from the domain plus the conversational behaviour every store wants."""

    def __init__(self, domain: Domain, ask_below: float = 0.6):
        self.domain = domain
        self.ask_below = ask_below

    def decide(self, tracker: DialogueTracker, parse: dict[str, Any], text: str, product_follow_up: bool,
               product_known: bool, product_named: bool = False) -> Decision:
        """The decision for this message. `product_follow_up`: it refines the last product list;
        `product_known`: a product is named or was the one last shown; `product_named`: this message names one."""
        decision = self._decide(tracker, parse, text, product_follow_up, product_known)
        if decision.kind == "recommend" and product_named and not (SIMILAR_PATTERN.search(text)
                                                                    or GOES_WITH_PATTERN.search(text)):
            # "tell me about the Tern Road Runner 3": its own facts, not a list (but "similar to ..." is a list)
            return Decision("answer", resume_form=decision.resume_form)
        return decision

    def _decide(self, tracker: DialogueTracker, parse: dict[str, Any], text: str, product_follow_up: bool,
                product_known: bool) -> Decision:
        intent = (parse.get("intent") or {}).get("name")
        confidence = float((parse.get("intent") or {}).get("confidence") or 0.0)
        slots = tracker.slots
        rule = self.domain.rule_for(intent) if intent else None

        awaiting = slots.get("awaiting_confirmation")
        if awaiting and intent in ("affirm", "deny"):
            return Decision("confirm", awaiting, confirmed=intent == "affirm")

        form = tracker.active_loop
        if form is not None:
            if intent == "human_handoff":
                return Decision("stop_form", form, then=rule.then if rule else None)
            fills = self.domain.form_slot_values(form, parse.get("entities") or [], text, slots.get("requested_slot"))
            if fills or intent in ("inform", "affirm"):
                return Decision("form", form)
            if intent == "deny" or STOP_WORDS.match(text):
                return Decision("stop_form", form)
            if rule is not None and rule.form is not None and rule.then != slots.get("goal_action"):
                return Decision("form", rule.form, then=rule.then, activate=True)  # a new task replaces the form
            if rule is not None or intent == "oos":  # a digression: answer it, then resume the form
                digression = RECOMMEND if product_follow_up else self._simple(rule, text, product_known)
                return replace(digression, resume_form=form)
            return Decision("form", form)

        if product_follow_up:
            return RECOMMEND

        goal = slots.get("goal_action")
        unsure = parse.get("source") == "nlu" and confidence < self.ask_below
        about_an_order = any(e["entity"] in self.domain.form_entities() for e in parse.get("entities") or [])
        if goal and about_an_order and (rule is None or intent in ("inform", "deny") or rule.answer or unsure):
            goal_form = next((r.form for r in self.domain.rules if r.then == goal and r.form), None)
            if goal_form:  # "no, order 10482": the last request again, with the corrected slot
                return Decision("form", goal_form, then=goal, activate=True)

        if unsure and intent not in (None, "oos"):
            options = [r["name"] for r in parse.get("intent_ranking", []) if r["name"] != "oos"][:2]
            if len(options) == 2:
                return Decision("clarify", options=options)

        if rule is not None and rule.form is not None:
            return Decision("form", rule.form, then=rule.then, activate=True)
        return self._simple(rule, text, product_known)

    def _simple(self, rule: Rule | None, text: str, product_known: bool) -> Decision:
        """Decisions that need no form: responses, actions, answers, recommendations."""
        if rule is None:  # out of scope, or an intent without a rule: the knowledge base answers if it knows
            return Decision("answer")
        if rule.response is not None:
            return Decision("response", rule.response)
        if rule.then is not None:
            return Decision("action", rule.then)
        if rule.recommend:
            return RECOMMEND
        if rule.details is not None and product_known and DETAILS_QUESTION.search(text):
            return Decision("action", rule.details)
        return Decision("answer")
