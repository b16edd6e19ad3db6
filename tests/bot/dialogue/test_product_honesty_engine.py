"""Honest product answers through the real engine (demo domain, in-process rasa-sdk actions, real retrieval,
extractive replies, no NLU model): none within the filters is said, follow-ups keep the kind and features,
"compare X and Y" gets a written comparison, and a named product gets readable sentences."""

from __future__ import annotations

import asyncio
import re

from tests.bot.dialogue.conftest import say, texts


def cards(events) -> list[dict]:
    return [card for e in events if e.type == "message" for card in e.cards]


def test_none_under_the_price_is_said_with_labelled_alternatives(make_engine, demo_store) -> None:
    engine = make_engine()
    events = asyncio.run(say(engine, "trail running shoes under ＄100"))
    assert texts(events).startswith("We don't have any trail running shoes under $100.")
    shown = cards(events)
    assert shown and all(card["alternative"] for card in shown)
    assert all(demo_store.kb.product(c["id"]).subcategory != "recovery sandals" for c in shown)


def test_cheaper_after_waterproof_boots_keeps_waterproof_boots(make_engine, demo_store) -> None:
    engine = make_engine()
    first = cards(asyncio.run(say(engine, "waterproof boots under $250", sender="b")))
    cheaper = asyncio.run(say(engine, "cheaper?", sender="b"))
    assert first and cards(cheaper)
    for card in cards(cheaper):
        product = demo_store.kb.product(card["id"])
        assert card["alternative"] or (product.attributes.get("waterproof") is True and "boot" in product.subcategory
                                       and card["price"] < min(c["price"] for c in first))


def test_compare_two_named_products_is_a_written_comparison(make_engine) -> None:
    engine = make_engine()
    events = asyncio.run(say(engine, "compare the Caribou Boot and the Hemlock Boot", sender="c"))
    said = texts(events)
    assert said.startswith("Caribou Boot vs Hemlock Boot:")
    assert "- price: $175.95 vs $158.99" in said and "- waterproof: yes vs yes" in said
    assert [c["id"] for c in cards(events)] == ["P1036", "P1038"]


def test_a_named_product_question_gets_sentences_not_fields(make_engine) -> None:
    engine = make_engine()
    said = texts(asyncio.run(say(engine, "is the Tern Road Runner 3 waterproof?", sender="d")))
    assert said.startswith("No, the Tern Road Runner 3 is not waterproof.")
    assert not re.search(r"\b(?:colors|sizes|gender|material|weight g):", said)
    about = texts(asyncio.run(say(engine, "tell me about the Relay Buds", sender="e")))
    assert about.startswith("Active noise cancellation and a pocketable charging case make the Relay Buds")
    assert "It costs $70.99" in about
