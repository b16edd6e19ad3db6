"""Domain loading: the demo domain is consistent with its NLU data; mistakes are reported with file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import DEMO_KB
from bot.dialogue.domain import load_domain
from bot.nlu.data import load_nlu_data
from retrieval.loaders import DataError
from tests.support import write

GOOD = """\
intents: [greet, order_status]
entities: [order_id]
slots:
  order_id:
    type: text
    mappings: [{type: from_entity, entity: order_id}]
responses:
  utter_greet: [{text: "Hi {name}!"}]
  utter_ask_order_id: [{text: "Which order?"}]
forms:
  order_form: {required_slots: [order_id]}
actions: [action_order_status]
rules:
  - {intent: greet, response: utter_greet}
  - {intent: order_status, form: order_form, then: action_order_status}
"""


def test_demo_domain_declares_every_nlu_intent() -> None:
    intents = sorted({example.label for example in load_nlu_data(DEMO_KB / "nlu.yml").examples})
    domain = load_domain(DEMO_KB / "domain.yml", intents)
    assert domain.rule_for("cancel_order").form == "order_form"
    assert domain.response("utter_help")["buttons"][0]["payload"] == "/order_status"


def test_a_good_domain_loads_and_fills_slots_in_responses(tmp_path: Path) -> None:
    domain = load_domain(write(tmp_path / "domain.yml", GOOD))
    assert domain.response("utter_greet", {"name": "Ada"})["text"] == "Hi Ada!"
    assert domain.as_rasa_dict()["forms"] == {"order_form": {"required_slots": ["order_id"]}}


@pytest.mark.parametrize("change, line, words", [
    (("- {intent: greet, response: utter_greet}", "- {intent: greet, response: utter_greet, answer: true}"), 14,
     "exactly one of"),
    (("form: order_form, then", "form: missing_form, then"), 15, "unknown form 'missing_form'"),
    (("  utter_ask_order_id: [{text: \"Which order?\"}]\n", ""), 10, "utter_ask_order_id"),
    (("entity: order_id}", "entity: order_number}"), 6, "undeclared entity 'order_number'"),
    (("type: text", "type: texte"), 5, "slots.order_id.type"),
])
def test_mistakes_name_file_line_and_field(tmp_path: Path, change: tuple[str, str], line: int, words: str) -> None:
    path = write(tmp_path / "domain.yml", GOOD.replace(*change))
    with pytest.raises(DataError) as error:
        load_domain(path)
    message = str(error.value)
    assert f"{path}:" in message and words in message
    assert any(issue.line == line for issue in error.value.issues), message


def test_an_nlu_intent_missing_from_the_domain_is_reported(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="intent 'cancel_order' is in the NLU data but not in the domain"):
        load_domain(write(tmp_path / "domain.yml", GOOD), ["greet", "order_status", "cancel_order"])
