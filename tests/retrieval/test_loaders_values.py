"""Values as real exports write them: prices, ratings, counts, HTML, and ids made from titles."""

from __future__ import annotations

import pytest

from retrieval.loaders.values import (
    IdMaker,
    PriceValue,
    RatingValue,
    clean_text,
    parse_count,
    parse_price,
    parse_rating,
    slug_id,
    strip_html,
)


@pytest.mark.parametrize(("text", "expected"), [
    ("$20.99 ", PriceValue(20.99, None, "USD")),
    ("20.99", PriceValue(20.99)),
    (19.5, PriceValue(19.5)),
    ("1.299,00 €", PriceValue(1299.0, None, "EUR")),
    ("€ 49,90", PriceValue(49.9, None, "EUR")),
    ("1,019.99", PriceValue(1019.99)),
    ("$1,299", PriceValue(1299.0, None, "USD")),
    ("£1 299,50", PriceValue(1299.5, None, "GBP")),
    ("USD 20", PriceValue(20.0, None, "USD")),
    ("$299.99through-$449.99", PriceValue(299.99, 449.99, "USD")),
    ("$299.99 - $449.99", PriceValue(299.99, 449.99, "USD")),
    ("$449.99 to $299.99", PriceValue(299.99, 449.99, "USD")),
    ("$10 - $10", PriceValue(10.0, None, "USD")),
    ("-5", PriceValue(-5.0)),
    ("-$5.00", PriceValue(-5.0, None, "USD")),
    ("$-5", PriceValue(-5.0, None, "USD")),
])
def test_prices(text: object, expected: PriceValue) -> None:
    assert parse_price(text) == expected


@pytest.mark.parametrize("text", ["free", "", "call us", "12 pack", "$5 off", "1 2 3", "$1 and $2 and $3", True])
def test_not_prices(text: object) -> None:
    assert parse_price(text) is None


@pytest.mark.parametrize(("text", "expected"), [
    ("Rated 4.5 out of 5 stars based on 4317 reviews.", RatingValue(4.5, 4317)),
    ("Rated 4.7 out of 5 stars based on 2,054 reviews.", RatingValue(4.7, 2054)),
    ("4.5/5", RatingValue(4.5)),
    ("4,5", RatingValue(4.5)),
    ("4.5 stars", RatingValue(4.5)),
    ("4.5 (1,204)", RatingValue(4.5, 1204)),
    ("9/10", RatingValue(4.5)),
    ("★★★★☆", RatingValue(4.0)),
    ("★★★½☆", RatingValue(3.5)),
    ("Not Yet Reviewed", RatingValue(None)),
    ("Be the first to write a review", RatingValue(None)),
    ("7", RatingValue(7.0)),  # read as written; the catalog refuses it as out of range
])
def test_ratings(text: str, expected: RatingValue) -> None:
    assert parse_rating(text) == expected


@pytest.mark.parametrize("text", ["great", "five stars maybe", "", "4.5/0"])
def test_not_ratings(text: str) -> None:
    assert parse_rating(text) is None


def test_counts() -> None:
    assert [parse_count(v) for v in ("4,317", "4317 reviews", "(12)", "-2", "12.0", 7)] == [4317, 4317, 12, -2, 12, 7]
    assert parse_count("12.5") is None and parse_count("lots") is None


def test_html_and_odd_unicode() -> None:
    assert strip_html("<p>Soft <b>wool</b> &amp; silk</p><script>x()</script><ul><li>warm</li></ul>") == \
        "Soft wool & silk warm"
    assert clean_text("Caf\u0065\u0301\u200b  Mug\u2028 ☕\x00") == "Café Mug ☕"


def test_ids_from_titles_are_stable_and_collisions_resolved_in_file_order() -> None:
    assert slug_id("Sony WH-1000XM5 Wireless Headphones") == "sony-wh-1000xm5-wireless-headphones"
    assert slug_id("Café Crème  Mug") == "cafe-creme-mug"
    long = slug_id("word " * 40)
    assert len(long) <= 60 and not long.endswith("-")
    assert slug_id("东京タワー") == slug_id("东京タワー") and slug_id("东京タワー").startswith("p-")
    assert slug_id("东京タワー") != slug_id("大阪城")
    first, second = IdMaker({"mug"}), IdMaker({"mug"})
    made = [first.make(t) for t in ("Mug", "Mug", "Hat", "mug!")]
    assert made == ["mug-2", "mug-3", "hat", "mug-4"]
    assert [second.make(t) for t in ("Mug", "Mug", "Hat", "mug!")] == made  # the same file gives the same ids
