"""The product actions through rasa-sdk's own ActionExecutor on the demo catalog: a kind the store does not carry is
said (no cards passed off), "compare X and Y" is written out, and the comparison's cards are the two products."""

from __future__ import annotations

import pytest

from actions.services import set_recommender
from retrieval.recommend import Recommender
from tests.actions.conftest import run, slots_of, text_of


@pytest.fixture(autouse=True)
def recommender(demo_store):
    set_recommender(Recommender(demo_store.products))
    yield
    set_recommender(None)


def cards_of(out: dict) -> list[dict]:
    return [card for r in out["responses"] for card in ((r.get("custom") or {}).get("cards") or [])]


def test_a_kind_not_carried_is_said_by_the_action() -> None:
    out = run("action_recommend_products", {}, text="cheapest HDMI cable")
    assert text_of(out).startswith("Sorry, we don't carry HDMI cables. We sell running shoes")
    assert cards_of(out) == []


def test_compare_from_the_action_and_its_state() -> None:
    out = run("action_recommend_products", {}, text="Zephyr Racer vs Meteor Racer 6")
    said = text_of(out)
    assert said.startswith("Zephyr Racer vs Meteor Racer 6:") and "- weight: 215 g vs 195 g" in said
    assert [c["id"] for c in cards_of(out)] == ["P1024", "P1023"]
    assert slots_of(out)["product_state"]["shown"] == ["P1024", "P1023"]
