"""The reviews loader: record checks with file, line and field; stable ids for reviews without one; reviews.jsonl,
reviews.csv and a `sources: reviews:` entry as parts of a knowledge-base folder; the demo's reviews agree with its
catalog."""

import datetime
import json
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from retrieval.loaders import DataError, Review, load_knowledge_base, load_reviews
from tests.support import write

CATALOG = "id,title,price\nP1,Trail boot,149\nP2,Rain jacket,129\n"


def _jsonl(*records: dict) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def test_jsonl_reviews_load_in_file_order_with_stable_ids_when_missing(tmp_path: Path) -> None:
    path = write(tmp_path / "reviews.jsonl", _jsonl(
        {"review_id": "r-1", "product_id": "P1", "rating": 5, "title": "Great", "text": "Stayed dry.",
         "date": "2026-05-01", "author": "Sam K."},
        {"product_id": "P2", "rating": "4", "title": "", "text": "  Runs   small. ", "date": "2026-05-02"}))
    reviews = load_reviews(path, {"P1", "P2"})
    assert reviews == [Review("r-1", "P1", 5, "Great", "Stayed dry.", datetime.date(2026, 5, 1), "Sam K."),
                       Review("P2-r2", "P2", 4, "", "Runs small.", datetime.date(2026, 5, 2), None)]
    assert load_reviews(path, {"P1", "P2"})[1].review_id == "P2-r2"     # the same id on every load


def test_errors_name_file_line_and_field(tmp_path: Path) -> None:
    path = write(tmp_path / "reviews.jsonl", _jsonl(
        {"product_id": "P1", "rating": 5, "text": "Fine.", "date": "2026-05-01"},
        {"product_id": "P9", "rating": 5, "text": "Fine.", "date": "2026-05-01"},
        {"product_id": "P1", "rating": 6, "text": "Fine.", "date": "2026-05-01"},
        {"product_id": "P1", "rating": 4.5, "text": "Fine.", "date": "2026-05-01"},
        {"product_id": "P1", "rating": 3, "text": "Fine.", "date": "last tuesday"},
        {"product_id": "P1", "rating": 3, "text": "   ", "date": "2026-05-01"},
        {"review_id": "x", "product_id": "P1", "rating": 3, "text": "A.", "date": "2026-05-01"},
        {"review_id": "x", "product_id": "P1", "rating": 3, "text": "B.", "date": "2026-05-01"}))
    with pytest.raises(DataError) as caught:
        load_reviews(path, {"P1", "P2"})
    found = {(i.line, i.field) for i in caught.value.issues}
    assert found == {(2, "product_id"), (3, "rating"), (4, "rating"), (5, "date"), (6, "text"), (8, "review_id")}
    assert all(i.file == str(path) for i in caught.value.issues)
    message = str(caught.value)
    assert "unknown product id 'P9'" in message and "rating '6' is not a whole number from 1 to 5" in message
    assert "'last tuesday' is not an ISO date" in message and "empty review text" in message


def test_csv_reviews_and_their_errors(tmp_path: Path) -> None:
    path = write(tmp_path / "reviews.csv", "product_id,rating,title,text,date\n"
                                           "P1,5,Good,Comfortable from day one.,2026-04-01\n"
                                           "P1,0,Bad,Fell apart.,2026-04-02\n")
    with pytest.raises(DataError) as caught:
        load_reviews(path, {"P1"})
    assert [(i.line, i.field) for i in caught.value.issues] == [(3, "rating")]
    write(path, "product_id,rating,title,text,date\nP1,5,Good,Comfortable from day one.,2026-04-01\n")
    assert load_reviews(path, {"P1"})[0].review_id == "P1-r2"


def test_reviews_are_part_of_a_store_folder_and_can_live_elsewhere(tmp_path: Path) -> None:
    write(tmp_path / "shop" / "catalog.csv", CATALOG)
    write(tmp_path / "shop" / "reviews.jsonl", _jsonl(
        {"product_id": "P1", "rating": 2, "text": "Leaked.", "date": "2026-05-01"},
        {"product_id": "P1", "rating": 4, "text": "Warm.", "date": "2026-05-03"}))
    kb = load_knowledge_base(tmp_path / "shop")
    assert [r.text for r in kb.reviews_for("P1")] == ["Leaked.", "Warm."] and kb.reviews_for("P2") == []

    write(tmp_path / "other" / "catalog.csv", CATALOG)
    write(tmp_path / "other" / "exports" / "feedback.csv", "product_id,rating,title,text,date\n"
                                                          "P3,5,Good,Nice.,2026-04-01\n")
    write(tmp_path / "other" / "store.yml", "name: Other\nsources:\n  reviews: exports/feedback.csv\n")
    with pytest.raises(DataError) as caught:
        load_knowledge_base(tmp_path / "other")
    assert [(Path(i.file).name, i.line, i.field) for i in caught.value.issues] == [("feedback.csv", 2, "product_id")]

    write(tmp_path / "bare" / "faq.csv", "id,question,answer\nq1,Hi?,Hello.\n")
    write(tmp_path / "bare" / "reviews.jsonl", _jsonl({"product_id": "P1", "rating": 2, "text": "x", "date": "2026-05-01"}))
    with pytest.raises(DataError, match="reviews need a catalog"):
        load_knowledge_base(tmp_path / "bare")


def test_a_store_without_reviews_has_none(tmp_path: Path) -> None:
    write(tmp_path / "catalog.csv", CATALOG)
    kb = load_knowledge_base(tmp_path)
    assert kb.reviews == [] and kb.reviews_for("P1") == []


def test_the_demo_reviews_agree_with_each_products_rating_and_review_count(demo_kb) -> None:
    stars: dict[str, list[int]] = defaultdict(list)
    for review in demo_kb.reviews:
        stars[review.product_id].append(review.rating)
    assert len(demo_kb.reviews) >= 1500
    for product in demo_kb.products:
        mine = stars[product.id]
        assert len(mine) == product.review_count, product.id
        mean = (Decimal(sum(mine)) / len(mine)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
        assert mean == Decimal(str(product.rating)), product.id
