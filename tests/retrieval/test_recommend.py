"""Recommendations on the demo store: cards honour the filters, and follow-ups refine the last list."""

from __future__ import annotations

from retrieval.recommend import Recommender


def test_cards_honour_filters_and_carry_what_a_channel_shows(demo_store) -> None:
    result = Recommender(demo_store.products, "https://shop.example").recommend("waterproof jackets under $200")
    assert result.cards and not result.refined
    for card in result.cards:
        product = demo_store.kb.product(card.id)
        assert product.category == "Jackets & Outerwear" and card.price <= 200 and card.price == product.price
        assert card.title and card.image and card.link and card.reason
    assert result.lead.startswith("Here are some options (under $200, Jackets & Outerwear), from $")


def test_cheaper_pricier_and_colour_follow_ups_refine_the_last_list(demo_store) -> None:
    recommender = Recommender(demo_store.products)
    first = recommender.recommend("running shoes")
    cheaper = recommender.recommend("cheaper?", first.state)
    assert cheaper.refined and cheaper.cards
    assert max(c.price for c in cheaper.cards) < min(c.price for c in first.cards)
    assert all(demo_store.kb.product(c.id).category == "Running Shoes" for c in cheaper.cards)
    pricier = recommender.recommend("anything more premium?", first.state)
    assert min(c.price for c in pricier.cards) > max(c.price for c in first.cards)
    colour = next(c for c in demo_store.products.vocabulary.colors
                  if any(c in p.colors for p in demo_store.kb.products if p.category == "Running Shoes"))
    in_colour = recommender.recommend(f"in {colour}?", first.state)
    assert in_colour.refined and in_colour.cards
    assert all(colour in demo_store.kb.product(c.id).colors for c in in_colour.cards)
    assert all(demo_store.kb.product(c.id).category == "Running Shoes" for c in in_colour.cards)


def test_a_new_request_is_not_taken_for_a_follow_up(demo_store) -> None:
    recommender = Recommender(demo_store.products)
    first = recommender.recommend("running shoes under $150")
    tents = recommender.recommend("show me tents", first.state)
    assert not tents.refined and all(demo_store.kb.product(c.id).category == "Camping & Tents" for c in tents.cards)
