"""Finding 14, stock: a catalog without a stock column never says "in stock" (unknown stock is unknown), in product
details, in search leads ("in stock" asked) and in the facts given to the reply LM."""

from __future__ import annotations

import asyncio

import pytest
from rasa_sdk.executor import ActionExecutor

from actions import products as product_actions
from actions.services import set_recommender
from retrieval.documents import Product
from retrieval.filters import ProductFilters
from retrieval.recommend import Recommender

CATALOG = """id,title,price,brand,category,description
H1,Ridge Rain Shell,129.00,Ridgeway,Jackets,A waterproof rain jacket for hiking.
H2,Cloud Puffer,189.00,Ridgeway,Jackets,A warm insulated winter jacket.
H3,Trail Beanie,24.00,Kestrel,Hats,A knit beanie for cold trail mornings.
"""


def test_unknown_stock_is_neither_in_nor_out_of_stock() -> None:
    unknown, none_left, some = (Product("A", "A", "b", "c", 1.0, stock=s) for s in (None, 0, 3))
    assert (unknown.in_stock, unknown.out_of_stock, unknown.availability) == (False, False, "stock unknown")
    assert (none_left.in_stock, none_left.out_of_stock, some.in_stock) == (False, True, True)
    assert not ProductFilters(in_stock=True).matches(unknown) and ProductFilters(in_stock=True).matches(some)


def test_the_reply_lm_is_told_stock_is_unknown() -> None:
    from bot.responder.prompt import product_source

    text = str(product_source(Product("A", "Ridge Rain Shell", "Ridgeway", "Jackets", 129.0)))
    assert "stock unknown" in text and "in stock" not in text.replace("stock unknown", "")


@pytest.fixture(scope="module")
def no_stock_store(tmp_path_factory: pytest.TempPathFactory, embedder):
    from bot.config import load_settings
    from bot.knowledge import open_store

    root = tmp_path_factory.mktemp("nostock")
    (root / "catalog.csv").write_text(CATALOG, encoding="utf-8")
    (root / "store.yml").write_text("name: No Stock Shop\n", encoding="utf-8")
    return open_store(load_settings(kb_dir=root, cache_dir=root / "cache"), embedder=embedder)


@pytest.mark.slow
def test_in_stock_requests_say_stock_is_unknown(no_stock_store) -> None:
    recommender = Recommender(no_stock_store.products)
    answer = recommender.recommend("rain jacket in stock")
    assert answer.cards and answer.results.stock_unknown
    assert "(in stock" not in answer.lead and ", in stock" not in answer.lead and "don't have stock information" in answer.lead
    plain = recommender.recommend("rain jacket")
    assert "in stock" not in plain.lead and "out of stock" not in " ".join(c.reason for c in plain.cards)


@pytest.mark.slow
def test_product_details_do_not_claim_stock(no_stock_store) -> None:
    set_recommender(Recommender(no_stock_store.products))
    try:
        executor = ActionExecutor()
        executor.register_package(product_actions)
        request = {"next_action": "action_product_details", "sender_id": "s", "version": "3.21.1", "domain": {},
                   "tracker": {"sender_id": "s", "slots": {"product": "H1"}, "latest_message": {"text": "in stock?"},
                               "events": [], "paused": False, "followup_action": None, "active_loop": {},
                               "latest_action_name": "action_listen"}}
        text = asyncio.run(executor.run(request)).responses[0]["text"]
    finally:
        set_recommender(None)
    assert "is in stock" not in text and "don't have stock information" in text and "$129.00" in text
