"""Campaign drafts: segments resolved against the store's data, customers counted (never named), copy traced."""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import json
from datetime import UTC, datetime, timedelta

import pytest

from actions.order_records import read_orders
from benchmarks.writing.independent_check import Store, check
from bot.config import DEMO_KB
from bot.writing.campaign import CampaignWriter, SegmentError, match_audience, parse_segment

AS_OF = datetime(2026, 11, 23, tzinfo=UTC)


@pytest.fixture(scope="module")
def orders() -> list[dict]:
    return read_orders(DEMO_KB / "orders.json")[0]


def _recount(product_ids: set[str], since: datetime, events: set[str], orders_too: bool) -> tuple[int, int]:
    """Customers and shoppers counted straight from the raw files, without the campaign code."""
    raw = json.loads((DEMO_KB / "orders.json").read_text())["orders"]
    customers = {o["customer_id"] for o in raw if orders_too and o["status"] != "cancelled"
                 and since <= datetime.fromisoformat(o["placed_at"]) <= AS_OF
                 and any(i["product_id"] in product_ids for i in o["items"])}
    with (DEMO_KB / "history.csv").open() as handle:
        shoppers = {r["shopper"] for r in csv.DictReader(handle) if r["event"] in events
                    and r["product_id"] in product_ids
                    and since <= datetime.fromisoformat(r["timestamp"].replace("Z", "+00:00")) <= AS_OF}
    return len(customers), len(shoppers)


def test_a_purchase_segment_is_resolved_and_counted_as_the_raw_data_says(demo_kb, orders) -> None:
    segment = parse_segment("Customers who bought a tent in the last 90 days", demo_kb, AS_OF)
    assert segment.actions == ("purchased",) and segment.since == AS_OF - timedelta(days=90)
    assert segment.products and all("tent" in p.subcategory for p in segment.products)
    audience = match_audience(segment, demo_kb, orders)
    expected = _recount({p.id for p in segment.products}, segment.since, {"purchased"}, orders_too=True)
    assert (audience.order_customers, audience.history_shoppers) == expected and audience.total > 0


def test_viewing_and_cart_segments_use_the_history(demo_kb, orders) -> None:
    viewed = parse_segment("viewed running shoes in the past 2 weeks", demo_kb, AS_OF)
    assert viewed.actions == ("viewed",) and {p.category for p in viewed.products} == {"Running Shoes"}
    audience = match_audience(viewed, demo_kb, orders)
    ids = {p.id for p in viewed.products}
    assert (audience.order_customers, audience.history_shoppers) == _recount(
        ids, AS_OF - timedelta(days=14), {"product_viewed", "card_clicked"}, orders_too=False)
    cart = parse_segment("added a rain jacket to their cart", demo_kb, AS_OF)
    assert cart.actions == ("cart",) and {p.subcategory for p in cart.products} == {"rain jacket"}
    anyone = parse_segment("customers in the last 90 days", demo_kb, AS_OF)
    assert anyone.actions == () and anyone.products is None
    assert match_audience(anyone, demo_kb, orders).total >= match_audience(
        parse_segment("bought a tent in the last 90 days", demo_kb, AS_OF), demo_kb, orders).total


def test_a_segment_naming_nothing_the_store_sells_is_refused(demo_kb) -> None:
    with pytest.raises(SegmentError, match="spaceship"):
        parse_segment("bought a spaceship", demo_kb, AS_OF)


def test_the_draft_counts_customers_but_holds_none_of_their_personal_data(demo_kb, orders) -> None:
    draft = asyncio.run(CampaignWriter(demo_kb, orders).write("bought a tent in the last 90 days", as_of=AS_OF))
    written = draft.to_markdown() + draft.to_json()
    raw = json.loads((DEMO_KB / "orders.json").read_text())
    personal = [c[k] for c in raw["customers"] for k in ("name", "email", "phone", "id")]
    personal += [c["address"]["line1"] for c in raw["customers"]] + [o["email"] for o in raw["orders"]]
    assert not [value for value in personal if value in written]
    assert "s0001" not in written and str(draft.audience.total) in written


def test_campaign_copy_is_traced_and_names_a_promo_code_only_when_the_store_has_one(demo_kb, orders) -> None:
    store = Store.load(DEMO_KB)
    writer = CampaignWriter(demo_kb, orders)
    browsing = asyncio.run(writer.write("viewed running shoes in the last 30 days", as_of=AS_OF))
    assert browsing.promo == "WELCOME10" and "WELCOME10" in browsing.text
    buyers = asyncio.run(writer.write("bought a tent in the last 90 days", as_of=AS_OF))
    assert buyers.promo is None and "WELCOME10" not in buyers.text  # a first-order code, and they have ordered
    for draft in (browsing, buyers):
        assert all(c.trace.supported and c.trace.sources for c in draft.body)
        assert check(draft.subject.text + ". " + draft.text, draft.products[0].id, store)["unsupported"] == []
    no_promotions = dataclasses.replace(demo_kb, facts={k: v for k, v in demo_kb.facts.items() if k != "promotions"})
    plain = asyncio.run(CampaignWriter(no_promotions, orders).write("viewed running shoes", as_of=AS_OF))
    assert plain.promo is None and "WELCOME10" not in plain.text and "%" not in plain.text


def test_a_named_product_is_the_subject_and_an_unknown_one_is_refused(demo_kb, orders) -> None:
    writer = CampaignWriter(demo_kb, orders)
    draft = asyncio.run(writer.write("viewed running shoes", ["P1001"], as_of=AS_OF))
    assert [p.id for p in draft.products] == ["P1001"] and "Tern Road Runner 3" in draft.subject.text
    with pytest.raises(SegmentError, match="P0000"):
        asyncio.run(writer.write("viewed running shoes", ["P0000"], as_of=AS_OF))
