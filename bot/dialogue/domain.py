"""The dialogue domain (`domain.yml`, a subset of Rasa's format plus `rules`), validated with file and line.

>>> domain = load_domain(Path("knowledge_base/demo/domain.yml"))
>>> domain.rule_for("order_status").form
'order_form'
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from retrieval.loaders.errors import DataError, DataIssue
from retrieval.loaders.records import load_yaml_with_lines, strip_line_markers

SlotType = Literal["text", "float", "bool", "categorical", "list", "any"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SlotMapping(_Strict):
    type: Literal["from_entity", "from_text", "from_intent", "custom"]
    entity: str | None = None
    intent: str | list[str] | None = None
    value: Any = None
    conditions: list[dict[str, Any]] = Field(default_factory=list)

    @model_validator(mode="after")
    def _entity_needed(self) -> SlotMapping:
        if self.type == "from_entity" and not self.entity:
            raise ValueError("a from_entity mapping needs `entity`")
        return self


class Slot(_Strict):
    type: SlotType = "any"
    initial_value: Any = None
    influence_conversation: bool = False
    values: list[Any] | None = None
    mappings: list[SlotMapping] = Field(default_factory=list)


class Button(_Strict):
    title: str
    payload: str


class ResponseVariation(_Strict):
    text: str
    buttons: list[Button] = Field(default_factory=list)
    image: str | None = None


class Form(_Strict):
    required_slots: list[str]


class Rule(_Strict):
    """What an intent does."""

    intent: str
    title: str | None = None
    then: str | None = None          # an action to run (after the form, when there is one)
    form: str | None = None
    response: str | None = None
    answer: bool = False
    recommend: bool = False
    details: str | None = None       # an action for questions about a known product (price, stock, colours)

    @model_validator(mode="after")
    def _one_outcome(self) -> Rule:
        outcomes = [self.then is not None or self.form is not None, self.response is not None, self.answer,
                    self.recommend]
        if sum(outcomes) != 1:
            raise ValueError("a rule needs exactly one of `then` (with an optional `form`), `response`, "
                             "`answer: true` or `recommend: true`")
        if self.form is not None and self.then is None:
            raise ValueError("a rule with a `form` needs `then`: the action to run once the form is filled")
        return self


class SessionConfig(_Strict):
    session_expiration_time: float = 60          # minutes; 0 never expires
    carry_over_slots_to_new_session: bool | list[str] = True


class Domain(_Strict):
    """Intents, entities, slots, responses, forms, actions, rules and the session settings."""

    version: str = "3.1"
    session_config: SessionConfig = Field(default_factory=SessionConfig)
    intents: list[str]
    entities: list[str] = Field(default_factory=list)
    slots: dict[str, Slot] = Field(default_factory=dict)
    responses: dict[str, list[ResponseVariation]] = Field(default_factory=dict)
    forms: dict[str, Form] = Field(default_factory=dict)
    actions: list[str] = Field(default_factory=list)
    rules: list[Rule] = Field(default_factory=list)

    def rule_for(self, intent: str) -> Rule | None:
        """The rule for an intent, or None (the engine answers from the knowledge base)."""
        return self._rules.get(intent)

    def model_post_init(self, _: Any) -> None:
        self._rules = {rule.intent: rule for rule in self.rules}
        self._form_entities = {m.entity for form in self.forms.values() for name in form.required_slots
                               if name in self.slots for m in self.slots[name].mappings if m.type == "from_entity"}

    def form_entities(self) -> set[str]:
        """Entities that fill a slot of some form (an order id or an email in any message is about an order)."""
        return self._form_entities

    def form_slot_values(self, form: str, entities: list[dict[str, Any]], text: str, requested_slot: str | None,
                         from_text: bool = True) -> dict[str, Any]:
        """The values a message gives the form's slots, by the slots' mappings: entities first, then the message's
        own text for a `from_text` slot the form is asking for (never a `/intent` button payload)."""
        values: dict[str, Any] = {}
        for name in self.forms[form].required_slots:
            for mapping in self.slots[name].mappings:
                if mapping.type == "from_entity":
                    value = next((e["value"] for e in entities if e["entity"] == mapping.entity), None)
                    if value is not None:
                        values[name] = value
                        break
                elif (mapping.type == "from_text" and from_text and text and not text.startswith("/")
                      and _conditions_hold(mapping.conditions, form, name, requested_slot)):
                    values[name] = text
                    break
        return values

    def title(self, intent: str) -> str:
        """A button title for the intent ("Check an order's status")."""
        rule = self.rule_for(intent)
        return rule.title if rule is not None and rule.title else intent.replace("_", " ").capitalize()

    def response(self, name: str, slots: dict[str, Any] | None = None, rng: random.Random | None = None
                 ) -> dict[str, Any]:
        """One variation of a response, with `{slot}` placeholders filled: `{"text": ..., "buttons": [...]}`."""
        variation = (rng or random).choice(self.responses[name])
        text = variation.text
        for key, value in (slots or {}).items():
            text = text.replace("{" + key + "}", "" if value is None else str(value))
        message: dict[str, Any] = {"text": text, "buttons": [b.model_dump() for b in variation.buttons]}
        if variation.image:
            message["image"] = variation.image
        return message

    def initial_slots(self) -> dict[str, Any]:
        return {name: slot.initial_value for name, slot in self.slots.items()} | {"requested_slot": None}

    def carried_slots(self) -> list[str]:
        carry = self.session_config.carry_over_slots_to_new_session
        return list(self.slots) if carry is True else [] if carry is False else list(carry)

    def as_rasa_dict(self) -> dict[str, Any]:
        """The domain as an action server expects it in the webhook call."""
        return {"version": self.version, "intents": self.intents, "entities": self.entities,
                "slots": {name: slot.model_dump(exclude_none=True) for name, slot in self.slots.items()},
                "responses": {name: [v.model_dump(exclude_none=True) for v in variations]
                              for name, variations in self.responses.items()},
                "forms": {name: form.model_dump() for name, form in self.forms.items()},
                "actions": self.actions,
                "session_config": self.session_config.model_dump()}


def _conditions_hold(conditions: list[dict[str, Any]], form: str, slot: str, requested_slot: str | None) -> bool:
    """A `from_text` mapping applies while the form asks for this slot (or as its conditions say)."""
    if not conditions:
        return requested_slot == slot
    return any(c.get("active_loop", form) == form and c.get("requested_slot", slot) == requested_slot
               for c in conditions)


def load_domain(path: Path, nlu_intents: list[str] | None = None) -> Domain:
    """Load and check a domain file; every problem is reported with its file, line and field.

    `nlu_intents` (from the NLU data) must all be declared in the domain.
    """
    if not Path(path).is_file():
        raise DataError([DataIssue(str(path), "domain file not found")])
    data = load_yaml_with_lines(path)
    if not isinstance(data, dict):
        raise DataError([DataIssue(str(path), "a domain file must be a mapping (intents:, slots:, ...)", 1)])
    try:
        domain = Domain.model_validate(strip_line_markers(data))
    except ValidationError as exc:
        raise DataError([DataIssue(str(path), error["msg"], _line_of(data, error["loc"]),
                                   ".".join(map(str, error["loc"]))) for error in exc.errors()]) from None
    issues = [DataIssue(str(path), message, _line_of(data, loc), ".".join(map(str, loc)))
              for loc, message in _consistency_problems(domain, nlu_intents)]
    if issues:
        raise DataError(issues)
    return domain


Problems = list[tuple[tuple[Any, ...], str]]


def _consistency_problems(domain: Domain, nlu_intents: list[str] | None) -> Problems:
    problems: Problems = []
    for intent in sorted(set(nlu_intents or []) - set(domain.intents)):
        problems.append((("intents",), f"intent '{intent}' is in the NLU data but not in the domain"))
    return problems + _rule_problems(domain) + _form_problems(domain) + _slot_problems(domain)


def _rule_problems(domain: Domain) -> Problems:
    problems: Problems = []
    intents, actions = set(domain.intents), set(domain.actions)
    for i, rule in enumerate(domain.rules):
        if rule.intent not in intents:
            problems.append((("rules", i, "intent"), f"unknown intent '{rule.intent}'"))
        for key in ("then", "details"):
            action = getattr(rule, key)
            if action is not None and action not in actions and action not in domain.responses:
                problems.append((("rules", i, key), f"'{action}' is neither in `actions` nor in `responses`"))
        if rule.response is not None and rule.response not in domain.responses:
            problems.append((("rules", i, "response"), f"unknown response '{rule.response}'"))
        if rule.form is not None and rule.form not in domain.forms:
            problems.append((("rules", i, "form"), f"unknown form '{rule.form}'"))
    return problems


def _form_problems(domain: Domain) -> Problems:
    problems: Problems = []
    for name, form in domain.forms.items():
        for slot in form.required_slots:
            if slot not in domain.slots:
                problems.append((("forms", name, "required_slots"), f"form '{name}' requires undeclared slot "
                                                                    f"'{slot}'"))
            elif f"utter_ask_{slot}" not in domain.responses:
                problems.append((("forms", name, "required_slots"), f"slot '{slot}' needs a response "
                                                                    f"'utter_ask_{slot}' to ask for it"))
    return problems


def _slot_problems(domain: Domain) -> Problems:
    """Slot mappings of undeclared entities, and carried-over slots that do not exist."""
    problems: Problems = []
    for name, slot in domain.slots.items():
        for i, mapping in enumerate(slot.mappings):
            if mapping.entity is not None and mapping.entity not in domain.entities:
                problems.append((("slots", name, "mappings", i), f"slot '{name}' maps undeclared entity "
                                                              f"'{mapping.entity}'"))
    carried = domain.session_config.carry_over_slots_to_new_session
    for slot in carried if isinstance(carried, list) else []:
        if slot not in domain.slots:
            problems.append((("session_config", "carry_over_slots_to_new_session"), f"unknown slot '{slot}'"))
    return problems


def _line_of(data: Any, loc: tuple[Any, ...]) -> int | None:
    """The line of the deepest mapping on the path `loc` (from `load_yaml_with_lines` markers)."""
    line = data.get("__line__") if isinstance(data, dict) else None
    node = data
    for key in loc:
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            break
        if isinstance(node, dict) and "__line__" in node:
            line = node["__line__"]
    return line
