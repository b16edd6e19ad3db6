"""The demo store is internally consistent: catalog, FAQ, policies and orders agree with store.yml."""

from __future__ import annotations

import json
import re
from collections import Counter
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.config import DEMO_KB
from retrieval.loaders import KnowledgeBase

FACTS = yaml.safe_load((DEMO_KB / "store.yml").read_text())
ORDERS = json.loads((DEMO_KB / "orders.json").read_text())
_AMOUNT = re.compile(r"\$(\d[\d,]*(?:\.\d\d)?)")
_DAYS = re.compile(r"(\d+)(?:\s*(?:-|to|–)\s*(\d+))?[ -](?:business )?days?\b")


def _numbers(value: Any) -> set[float]:
    """Every number written anywhere in store.yml (values and numbers inside strings)."""
    if isinstance(value, dict):
        return set().union(*(_numbers(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_numbers(v) for v in value)) if value else set()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return {float(value)}
    return {float(n.replace(",", "")) for n in re.findall(r"\d[\d,]*(?:\.\d+)?", str(value))}


FACT_NUMBERS = _numbers(FACTS)


def _all_texts(kb: KnowledgeBase) -> list[tuple[str, str]]:
    return [(f"faq:{e.id}", e.answer) for e in kb.faq] + [(f"policy:{s.id}", s.text) for s in kb.policies]


def test_sizes(demo_kb: KnowledgeBase) -> None:
    assert len(demo_kb.products) >= 300
    assert len({p.category for p in demo_kb.products}) >= 8
    assert len(demo_kb.faq) >= 80
    assert {p.stem for p in (DEMO_KB / "policies").glob("*.md")} >= {"shipping", "returns", "warranty", "privacy", "terms"}
    assert len(ORDERS["orders"]) >= 60


def test_every_product_has_the_catalog_fields_and_an_image(demo_kb: KnowledgeBase) -> None:
    for p in demo_kb.products:
        assert p.brand and p.category and p.description and p.currency == "USD" and p.price > 0, p.id
        assert p.stock is not None and p.rating is not None and p.tags and p.url, p.id
        assert (DEMO_KB / p.image).is_file(), p.image
        assert "material" in p.attributes and p.colors, p.id
    assert any(not p.in_stock for p in demo_kb.products)


def test_faq_covers_the_topics_shoppers_ask_about(demo_kb: KnowledgeBase) -> None:
    topics = Counter(e.topic for e in demo_kb.faq)
    for topic in ("shipping", "delivery", "international", "returns", "refunds", "exchanges", "payments",
                  "promotions", "account", "orders", "warranty", "privacy", "contact"):
        assert topics[topic] >= 3, topic


def test_money_amounts_in_faq_and_policies_come_from_store_facts(demo_kb: KnowledgeBase) -> None:
    wrong = [(source, amount) for source, text in _all_texts(demo_kb) for amount in _AMOUNT.findall(text)
             if float(amount.replace(",", "")) not in FACT_NUMBERS]
    assert wrong == []


def test_day_counts_in_faq_and_policies_come_from_store_facts(demo_kb: KnowledgeBase) -> None:
    wrong = [(source, match.group(0)) for source, text in _all_texts(demo_kb) for match in _DAYS.finditer(text)
             if any(n and float(n) not in FACT_NUMBERS for n in match.groups())]
    assert wrong == []


def test_key_facts_are_stated_the_same_everywhere(demo_kb: KnowledgeBase) -> None:
    faq = {e.id: e.answer for e in demo_kb.faq}
    policies = {s.id: s.text for s in demo_kb.policies}
    threshold = f"${FACTS['shipping']['free_shipping_threshold']:.2f}"
    assert threshold in faq["free-shipping-threshold"]
    assert any(threshold in text for sid, text in policies.items() if sid.startswith("shipping#"))
    window = f"{FACTS['returns']['window_days']} days"
    assert window in faq["return-window"]
    assert any(window in text for sid, text in policies.items() if sid.startswith("returns#"))
    emails = {e for _, text in _all_texts(demo_kb) for e in re.findall(r"[\w.+-]+@[\w-]+\.[\w.]+\w", text)}
    assert emails <= {FACTS["contact"]["email"]}
    phones = {p for _, text in _all_texts(demo_kb) for p in re.findall(r"\+1 \(\d{3}\) \d{3}-\d{4}", text)}
    assert phones <= {FACTS["contact"]["phone"]}


def test_categories_file_matches_catalog(demo_kb: KnowledgeBase) -> None:
    declared = set(yaml.safe_load((DEMO_KB / "categories.yml").read_text())["categories"][i]["name"]
                   for i in range(len(demo_kb.categories)))
    assert declared == {p.category for p in demo_kb.products}
    assert all(demo_kb.categories[c].goes_with for c in declared)


@pytest.fixture(scope="module")
def catalog(demo_kb: KnowledgeBase) -> dict:
    return {p.id: p for p in demo_kb.products}


def test_orders_reference_real_products_and_add_up(catalog: dict) -> None:
    customers = {c["id"]: c for c in ORDERS["customers"]}
    shipping = FACTS["shipping"]
    prices = {m["name"]: m["price"] for m in shipping["methods"]}
    for order in ORDERS["orders"]:
        assert order["email"] == customers[order["customer_id"]]["email"]
        for item in order["items"]:
            product = catalog[item["product_id"]]
            assert (item["title"], item["unit_price"]) == (product.title, product.price)
            assert item.get("color") is None or item["color"] in product.colors
            assert item.get("size") is None or item["size"] in product.sizes
        subtotal = round(sum(i["unit_price"] * i["quantity"] for i in order["items"]), 2)
        assert order["subtotal"] == pytest.approx(subtotal)
        assert order["total"] == pytest.approx(order["subtotal"] + order["shipping_cost"] + order["tax"])
        method = order["shipping_method"]
        if method == "International":
            expected = 0.0 if subtotal >= shipping["international"]["free_threshold"] else shipping["international"]["price"]
        elif method == "Standard" and subtotal >= shipping["free_shipping_threshold"]:
            expected = 0.0
        else:
            expected = prices[method]
        assert order["shipping_cost"] == pytest.approx(expected), order["id"]


def test_orders_cover_every_status_with_consistent_dates() -> None:
    statuses = Counter(o["status"] for o in ORDERS["orders"])
    assert set(statuses) == set(FACTS["orders"]["statuses"]) and min(statuses.values()) >= 5
    carriers = set(FACTS["shipping"]["carriers"])
    for order in ORDERS["orders"]:
        shipped = order["status"] in ("shipped", "delivered", "returned")
        assert bool(order["tracking_number"]) == shipped and (order["carrier"] in carriers) == shipped
        assert bool(order["delivered_at"]) == (order["status"] in ("delivered", "returned"))
        assert bool(order["cancelled_at"]) == (order["status"] == "cancelled")
        if order["status"] == "returned":
            assert order["return_id"] and order["refund"]["status"] in ("refunded", "processing")
    emails = [c["email"] for c in ORDERS["customers"]]
    assert len(emails) == len(set(emails)) and all(e.split("@")[1].startswith("example.") for e in emails)


def test_generator_reproduces_committed_files(tmp_path: Path) -> None:
    """The committed catalog, orders, history and reviews are exactly what scripts/build_demo_store.py writes."""
    import subprocess
    import sys

    script = DEMO_KB.parents[1] / "scripts" / "build_demo_store.py"
    result = subprocess.run([sys.executable, str(script), "--out", str(tmp_path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    for name in ("catalog.jsonl", "orders.json", "categories.yml", "history.csv", "reviews.jsonl"):
        assert (tmp_path / name).read_bytes() == (DEMO_KB / name).read_bytes(), name


def test_demo_history_is_large_and_loads(demo_kb: KnowledgeBase) -> None:
    """history.csv: thousands of shoppers, every kind of event, most of the catalog touched (loaded, so valid)."""
    history = demo_kb.history
    shoppers = {e.shopper for e in history}
    assert 40_000 <= len(history) <= 60_000 and len(shoppers) >= 2500
    assert (DEMO_KB / "history.csv").stat().st_size < 3_000_000
    assert set(Counter(e.event for e in history)) == {"product_viewed", "card_clicked", "added_to_cart", "purchased"}
    assert len({e.product_id for e in history}) >= 0.9 * len(demo_kb.products)
    assert all(a.timestamp <= b.timestamp for a, b in pairwise(history) if a.shopper == b.shopper)


def _later_share(buys: dict[str, list[str]], subcategory: dict[str, str], first: set[str], then: str) -> float:
    """Of the shoppers who bought from `first`, the share who later bought a `then`."""
    buyers = [items for items in buys.values() if any(subcategory[i] in first for i in items)]
    later = [items for items in buyers
             if then in {subcategory[i] for i in items[next(n for n, i in enumerate(items) if subcategory[i] in first):]}]
    return len(later) / len(buyers)


def test_demo_history_has_co_purchase_structure(demo_kb: KnowledgeBase) -> None:
    """Tents are followed by sleeping bags, shoes by socks, far more often than those are bought at all."""
    from retrieval.loaders.history import sequences

    subcategory = {p.id: p.subcategory for p in demo_kb.products}
    buys = sequences(demo_kb.history, events=("purchased",))
    for first, then in (({"backpacking tent", "car camping tent"}, "sleeping bag"),
                        ({"road running shoes", "trail running shoes"}, "running socks"),
                        ({"hiking boots", "hiking shoes"}, "hiking socks")):
        base = sum(any(subcategory[i] == then for i in items) for items in buys.values()) / len(buys)
        share = _later_share(buys, subcategory, first, then)
        assert share >= 0.25 and share >= 3 * base, (first, then, share, base)


def test_demo_history_repeats_brands_across_a_shoppers_purchases(demo_kb: KnowledgeBase) -> None:
    from retrieval.loaders.history import sequences

    brand = {p.id: p.brand for p in demo_kb.products}
    pairs = [(brand[a], brand[b]) for items in sequences(demo_kb.history, events=("purchased",)).values()
             for n, a in enumerate(items) for b in items[n + 1:]]
    counts = Counter(brand[i] for items in sequences(demo_kb.history, events=("purchased",)).values() for i in items)
    total = sum(counts.values())
    by_chance = sum((c / total) ** 2 for c in counts.values())
    assert sum(a == b for a, b in pairs) / len(pairs) >= 1.8 * by_chance


def test_demo_history_split_rewards_sequence_over_popularity(demo_kb: KnowledgeBase) -> None:
    """On the held-out last purchases, next-item co-occurrence beats a popularity ranking by a wide margin: the
    history has sequential structure for the recommender to learn."""
    import random

    from retrieval.loaders.history import held_out_split, sequences
    from retrieval.sequential.baselines import CoOccurrence, Popularity
    from retrieval.sequential.data import RankingCase
    from retrieval.sequential.evaluation import evaluate

    number = {p.id: n for n, p in enumerate(demo_kb.products, 1)}
    train, cases = held_out_split(demo_kb.history)
    assert len(cases) >= 1000
    shoppers = {s: n for n, s in enumerate(sorted({e.shopper for e in demo_kb.history}), 1)}
    touched = {s: {number[i] for i in items} for s, items in sequences(demo_kb.history).items()}
    rng = random.Random(16)
    ranking = [RankingCase(shoppers[c.shopper], number[c.product_id],
                           tuple(rng.sample([i for i in number.values() if i not in touched[c.shopper]], 100)))
               for c in cases]
    histories = {shoppers[s]: [number[i] for i in items] for s, items in sequences(train).items()}
    popular = evaluate(Popularity(histories), histories, ranking)["hr@10"]
    following = evaluate(CoOccurrence(histories), histories, ranking)["hr@10"]
    assert 0.15 <= popular <= 0.4 and following >= popular + 0.2, (popular, following)


def test_faq_alternates_do_not_leak_the_benchmark(demo_kb: KnowledgeBase) -> None:
    """Alternate phrasings are training data: none may be a near copy of a held-out benchmark query."""
    import csv

    from rapidfuzz import fuzz

    benchmarks = DEMO_KB.parents[1] / "benchmarks" / "retrieval"
    queries = [row["query"].lower() for name in ("demo_paraphrases.csv", "demo_paraphrases_dev.csv")
               for row in csv.DictReader(open(benchmarks / name, encoding="utf-8"))]
    alternates = [a.lower() for e in demo_kb.faq for a in e.alternates]
    assert len(alternates) >= 400
    leaks = [(a, q) for a in alternates for q in queries if fuzz.ratio(a, q) >= 75]
    assert leaks == []


def test_demo_nlu_data_is_valid_and_large_enough(demo_kb: KnowledgeBase) -> None:
    from bot.nlu.data import load_nlu_data, load_sentiment_data, validate_examples

    data = load_nlu_data(DEMO_KB / "nlu.yml")
    counts = data.counts()
    assert len(counts) >= 30 and min(counts.values()) >= 40 and "oos" in counts
    assert validate_examples(data.examples, min_per_label=40) == []
    titles, brands = {p.title for p in demo_kb.products}, {p.brand for p in demo_kb.products}
    order_ids = {o["id"] for o in ORDERS["orders"]}
    for example in data.examples:
        for span in example.entities:
            assert example.text[span.start:span.end] == span.value or span.entity in ("color",), example
            if span.entity == "product":
                assert span.value in titles, span
            if span.entity == "brand":
                assert span.value in brands, span
            if span.entity == "order_id":
                assert span.value in order_ids, span
    sentiment = load_sentiment_data(DEMO_KB / "sentiment.csv")
    labels = Counter(e.label for e in sentiment)
    assert len(sentiment) >= 800 and set(labels) == {"negative", "neutral", "positive"} and min(labels.values()) >= 200
