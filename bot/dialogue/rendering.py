"""Responses as outbound messages: domain responses (`utter`), ready messages (`say`), rasa-sdk response dicts from
actions (`response`), and the few composed ones (did you mean, back to the form, a correction noted). Each message
is recorded on the tracker as the bot event the shopper saw.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from typing import Any

from rasa_sdk.events import ActionExecuted, BotUttered

from bot.dialogue.domain import Domain
from bot.dialogue.tracker import DialogueTracker
from bot.messages import Outbound

OUTCOME_UNKNOWN = {"text": "Our order system didn't answer in time, so I can't tell yet whether that went through. "
                           "It's safe to ask again: it won't be done twice. Or talk to a person.",
                   "buttons": [{"title": "Talk to a person", "payload": "/human_handoff"}]}


class Renderer:
    """Turns response names and action responses into `Outbound` messages, recording each on the tracker."""

    def __init__(self, domain: Domain, store_name: str = "our store", rng: random.Random | None = None):
        self.domain = domain
        self.store_name = store_name
        self.rng = rng or random.Random()

    def utter(self, tracker: DialogueTracker, name: str) -> Outbound:
        """A domain response, its `{slot}` and `{store_name}` placeholders filled."""
        return self.say(tracker, name, self.domain.response(name, {**tracker.slots, "store_name": self.store_name},
                                                            self.rng))

    def say(self, tracker: DialogueTracker, name: str, message: Mapping[str, Any]) -> Outbound:
        """A message (text and buttons) said as the response `name`."""
        tracker.update(ActionExecuted(name))
        tracker.update(BotUttered(message.get("text"), data={"buttons": message.get("buttons") or []}))
        return Outbound("message", message.get("text") or "", buttons=list(message.get("buttons") or []))

    def response(self, tracker: DialogueTracker, response: dict[str, Any]) -> Outbound:
        """A rasa-sdk response dict (text, buttons, custom, image, or a named `response`) as an outbound message."""
        template = response.get("response") or response.get("template")
        if template and template in self.domain.responses:
            rendered = self.domain.response(template, {**tracker.slots, **(response.get("kwargs") or {})}, self.rng)
            response = {**rendered, **{k: v for k, v in response.items() if v}}
        custom = response.get("custom") or {}
        cards = list(custom.get("cards") or []) if isinstance(custom, dict) else []
        data = {k: v for k, v in custom.items() if k != "cards"} if isinstance(custom, dict) else {"custom": custom}
        if response.get("image"):
            data["image"] = response["image"]
        text = response.get("text") or ""
        buttons = list(response.get("buttons") or [])
        tracker.update(BotUttered(text, data={"buttons": buttons, "custom": custom or None}))
        return Outbound("message", text, buttons=buttons, cards=cards, data=data)

    def fallback(self, tracker: DialogueTracker) -> Outbound:
        """The honest "I can't help with that", marked so the turn counts as a fallback."""
        message = self.utter(tracker, "utter_fallback")
        message.data["fallback"] = True
        return message

    def did_you_mean(self, tracker: DialogueTracker, options: Sequence[str],
                     entities: Sequence[Mapping[str, Any]]) -> Outbound:
        """"Did you mean" with a button per intent (carrying the message's entities) and "Something else"."""
        values = {e["entity"]: e["value"] for e in entities if isinstance(e.get("value"), (str, int, float))}
        suffix = json.dumps(values) if values else ""
        buttons = [{"title": self.domain.title(i), "payload": f"/{i}{suffix}"} for i in options]
        buttons.append({"title": "Something else", "payload": "/help"})
        return self.say(tracker, "utter_did_you_mean",
                        {**self.domain.response("utter_did_you_mean", rng=self.rng), "buttons": buttons})

    def form_resumed(self, tracker: DialogueTracker, requested: str) -> Outbound:
        """"Back to your order: <the form's question again>" after a digression."""
        resume = self.domain.response("utter_form_resume", rng=self.rng)["text"]
        ask = self.domain.response(f"utter_ask_{requested}", rng=self.rng)
        return self.say(tracker, f"utter_ask_{requested}", {**ask, "text": f"{resume} {ask['text']}"})

    def corrected(self, tracker: DialogueTracker, slots: Sequence[str]) -> Outbound | None:
        """"Got it, ..." for a correction: `utter_corrected_<slot>` for one slot, else `utter_corrected`; None when
        the domain has neither. The value is not repeated: an order number is not said before it is verified."""
        specific = f"utter_corrected_{slots[0]}" if len(slots) == 1 else ""
        name = specific if specific in self.domain.responses else "utter_corrected"
        return self.utter(tracker, name) if name in self.domain.responses else None

    def outcome_unknown(self, tracker: DialogueTracker) -> Outbound:
        """An action with side effects got no answer: it may still happen, so never "it failed"."""
        message = self.domain.response("utter_outcome_unknown", rng=self.rng) \
            if "utter_outcome_unknown" in self.domain.responses else OUTCOME_UNKNOWN
        return self.say(tracker, "utter_outcome_unknown", message)
