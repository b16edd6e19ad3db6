"""Honest product answers on the demo store (real index, real search): no match for the kind says so, no match within
the filters says so and labels every alternative, follow-ups keep kind and features, required features come first,
comparisons come from the records; odd price spellings read right."""

from __future__ import annotations

import pytest

from retrieval.filters import find_price_range
from retrieval.recommend import Recommender


@pytest.fixture(scope="module")
def recommender(demo_store) -> Recommender:
    return Recommender(demo_store.products)


def product(demo_store, card):
    return demo_store.kb.product(card.id)


def test_a_kind_the_store_does_not_carry_is_said_and_nothing_is_passed_off(recommender) -> None:
    for text in ("cheapest HDMI cable", "a 4K TV under $500", "I need a yoga mat"):
        result = recommender.recommend(text)
        assert "don't carry" in result.lead, text
        assert not [c for c in result.cards if not c.alternative], text
    assert "HDMI cables" in recommender.recommend("cheapest HDMI cable").lead   # the shopper's words, their casing


@pytest.mark.parametrize("text, limit", [("trail running shoes under $100", 100.0),
                                         ("trail running shoes under ＄１００", 100.0),
                                         ("trail running shoes under 100 dollars", 100.0),
                                         ("trail running shoes below €90", 90.0)])
def test_none_under_the_price_says_so_and_labels_the_alternatives(recommender, demo_store, text, limit) -> None:
    result = recommender.recommend(text)
    assert result.lead.startswith(f"We don't have any trail running shoes under ${limit:g}."), result.lead
    assert result.cards and all(c.alternative for c in result.cards)
    kinds = {product(demo_store, c).subcategory for c in result.cards}
    assert "recovery sandals" not in kinds and "trail sandals" not in kinds
    for card in result.cards:
        real = product(demo_store, card)
        if real.subcategory == "trail running shoes":   # the kind asked for, over the limit: said so
            assert card.price > limit and "over your" in card.reason
        else:                                            # another kind within the limit: said so
            assert card.price <= limit and "not trail running shoes" in card.reason
    if "€" in text:
        assert "Prices are in USD" in result.lead


def test_a_required_feature_ranks_first_or_the_lack_is_said(recommender, demo_store) -> None:
    result = recommender.recommend("noise cancelling headphones under $100")
    assert result.lead.startswith("We don't have any noise cancelling headphones under $100.")
    first = product(demo_store, result.cards[0])
    assert "noise" in (first.description + " ".join(first.tags)).lower()
    assert all("noise" in (product(demo_store, c).description + " ".join(product(demo_store, c).tags)).lower()
               for c in result.cards)
    waterproof = recommender.recommend("waterproof headphones")
    assert waterproof.lead.startswith("None of our headphones are waterproof.")
    assert all(c.alternative and "not waterproof" in c.reason for c in waterproof.cards)


def test_cheaper_keeps_the_kind_and_the_feature(recommender, demo_store) -> None:
    first = recommender.recommend("waterproof boots")
    assert first.cards and all(product(demo_store, c).attributes.get("waterproof") is True for c in first.cards)
    cheaper = recommender.recommend("cheaper?", first.state)
    assert cheaper.refined
    for card in cheaper.cards:
        real = product(demo_store, card)
        if not card.alternative:
            assert real.attributes.get("waterproof") is True and "boot" in real.subcategory
            assert card.price < min(c.price for c in first.cards)


def test_a_partial_kind_stays_that_kind(recommender, demo_store) -> None:
    """"running shoes" names the category's own words: shoes, never the recovery sandals filed under it."""
    result = recommender.recommend("running shoes under $80")
    assert all(product(demo_store, c).subcategory != "recovery sandals" for c in result.cards if not c.alternative)
    sneakers = recommender.recommend("sneakers under $80")   # a shopper's word for shoes
    assert sneakers.cards and all("shoes" in product(demo_store, c).subcategory for c in sneakers.cards)


def test_cheapest_orders_by_price(recommender, demo_store) -> None:
    result = recommender.recommend("cheapest backpacking tent")
    tents = sorted(p.price for p in demo_store.kb.products if p.subcategory == "backpacking tent")
    assert [c.price for c in result.cards] == tents[: len(result.cards)]


def test_compare_writes_the_records_side_by_side(recommender, demo_store) -> None:
    result = recommender.recommend("compare the Tern Road Runner 3 and the Lark Road Runner 5")
    assert [c.id for c in result.cards] == ["P1001", "P1002"]
    lines = result.lead.splitlines()
    assert lines[0] == "Tern Road Runner 3 vs Lark Road Runner 5:"
    assert "- price: $156.99 vs $160.95" in lines and "- weight: 220 g vs 285 g" in lines
    assert "- waterproof: no vs no" in lines
    assert lines[-1] == "The Tern Road Runner 3 is cheaper and lighter; the Lark Road Runner 5 is rated higher."
    boots = recommender.recommend("hiking boots under $200")
    them = recommender.recommend("compare the first two", boots.state)
    assert [c.id for c in them.cards] == [c.id for c in boots.cards[:2]]
    assert all(f"${c.price:.2f}" in them.lead for c in boots.cards[:2])


def test_compare_with_one_known_product_asks_for_the_other(recommender) -> None:
    result = recommender.recommend("compare the Caribou Boot with the Zorblax 9000")
    assert result.lead.startswith("Which product should I compare the Caribou Boot with?")


@pytest.mark.parametrize("text, low, high", [("under ＄100", None, 100.0), ("below €80", None, 80.0),
                                             ("under 100 dollars", None, 100.0), ("over 150 euros", 150.0, None),
                                             ("between £20 and £40", 20.0, 40.0), ("less than ＄７５", None, 75.0)])
def test_odd_price_spellings(text, low, high) -> None:
    found = find_price_range(text)
    assert found is not None and (found.min_price, found.max_price) == (low, high)
    start, end = found.spans[0]
    assert text[start:end].strip()   # spans point into the text as written


def test_a_store_in_euros_says_euros_in_every_lead_and_reason(demo_store) -> None:
    import dataclasses

    from retrieval.filters import ProductFilters
    from retrieval.products import ProductSearch

    assert ProductFilters(max_price=100).describe("EUR") == "under €100"
    assert ProductFilters(min_price=20.5, max_price=80).describe("GBP") == "£20.50-£80"
    assert ProductFilters(max_price=100).describe("CHF") == "under 100 CHF"
    kb = dataclasses.replace(demo_store.kb, facts={**demo_store.kb.facts, "currency": "EUR"},
                             products=[dataclasses.replace(p, currency="EUR") for p in demo_store.kb.products])
    assert kb.currency == "EUR"
    euros = Recommender(ProductSearch(kb, demo_store.index))
    for text in ("trail running shoes under €100", "rain jacket under €150", "compare the Trailhead TR and the Tern "
                 "Road Runner 3", "cheapest HDMI cable"):
        result = euros.recommend(text)
        words = " ".join([result.lead] + [c.reason for c in result.cards])
        assert "$" not in words, (text, words)
    assert "under €100" in euros.recommend("trail running shoes under €100").lead
