"""Product search and recommendations on the demo catalog, with the real embedder."""

from __future__ import annotations

import pytest

from retrieval.filters import ProductFilters


def test_filters_from_text_are_honoured(demo_store) -> None:
    # under $80 the only blue "Running Shoes" item is a recovery sandal, no shoe (tests/retrieval/test_product_honesty.py)
    results = demo_store.products.search("running shoes under $120 in blue", k=10)
    assert results.filters.max_price == 120 and results.filters.colors == ("blue",)
    assert results.hits, "the demo catalog has blue running shoes under $120"
    for hit in results.hits:
        assert hit.product.price <= 120 and "blue" in hit.product.colors and hit.product.category == "Running Shoes"


@pytest.mark.parametrize("query, check", [
    ("tents between $200 and $400", lambda p: p.category == "Camping & Tents" and 200 <= p.price <= 400),
    ("kestrel running shoes in stock", lambda p: p.brand == "Kestrel" and p.in_stock),
    ("rain jacket for women", lambda p: p.category == "Jackets & Outerwear" and p.attributes.get("gender") in ("women", "unisex")),
    ("headlamp over $50", lambda p: p.price >= 50),
])
def test_every_result_satisfies_the_parsed_filters(demo_store, query, check) -> None:
    hits = demo_store.products.search(query, k=8).hits
    assert hits and all(check(h.product) for h in hits)


def test_meaning_ranks_the_right_subcategory_first(demo_store) -> None:
    top = demo_store.products.search("headlamp for night hiking", k=3).hits
    assert all("headlamp" in (h.product.subcategory + h.product.title).lower() for h in top)
    top = demo_store.products.search("insulated water bottle", k=3).hits
    assert all(h.product.category == "Hydration & Kitchen" for h in top)


def test_explicit_filters_merge_with_text(demo_store) -> None:
    results = demo_store.products.search("backpack", k=5, filters=ProductFilters(max_price=60, in_stock=True))
    assert results.hits and all(h.product.price <= 60 and h.product.in_stock for h in results.hits)


def test_impossible_filters_give_no_products(demo_store) -> None:
    assert demo_store.products.search("tents under $5", k=5).hits == []


def test_similar_to_a_named_product(demo_store) -> None:
    anchor = demo_store.kb.products[0]
    results = demo_store.products.recommend(f"anything similar to the {anchor.title.lower()}?", k=5)
    assert results.mode == "similar" and results.anchor == anchor
    assert results.hits and all(h.product.category == anchor.category and h.product.id != anchor.id for h in results.hits)


def test_goes_with_uses_complementary_categories(demo_store) -> None:
    anchor = next(p for p in demo_store.kb.products if p.category == "Camping & Tents")
    results = demo_store.products.recommend(f"what goes with {anchor.title}", k=6)
    partners = set(demo_store.kb.categories[anchor.category].goes_with)
    assert results.mode == "goes_with" and {h.product.category for h in results.hits} <= partners
    assert len({h.product.category for h in results.hits}) >= 2  # spread across complementary categories


def test_resolve_tolerates_typos(demo_store) -> None:
    product = demo_store.kb.products[5]
    typo = product.title[:-1] if len(product.title) > 8 else product.title
    assert demo_store.products.resolve(typo.lower()) == product
    assert demo_store.products.resolve(product.id.lower()) == product
    assert demo_store.products.resolve("quantum teleporter") is None
