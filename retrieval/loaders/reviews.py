"""Load a store's product reviews (`reviews.jsonl` or `reviews.csv`: product id, rating, title, text, date,
optional review id and author).

Every record is checked (a product the catalog has, a whole-number rating from 1 to 5, an ISO date, a text);
problems are reported all at once with file, line and field. A review without an id gets a stable one from its
product and line (`P1001-r12`), so it can be quoted and found again.

>>> reviews = load_reviews(Path("knowledge_base/demo/reviews.jsonl"), product_ids={p.id for p in kb.products})
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retrieval.loaders.errors import IssueCollector
from retrieval.loaders.records import read_records

REVIEW_FIELDS = ("review_id", "product_id", "rating", "title", "text", "date", "author")
REQUIRED = ("product_id", "rating", "text", "date")
_INTEGER = re.compile(r"^\s*([1-9]\d*)(?:\.0+)?\s*$")


@dataclass(frozen=True)
class Review:
    """One shopper's review of one product."""

    review_id: str        # from the file, or generated stably (product id + line) when missing
    product_id: str
    rating: int           # 1..5
    title: str
    text: str
    date: datetime.date
    author: str | None = None


def load_reviews(path: Path, product_ids: Collection[str] | None = None) -> list[Review]:
    """Every review of the file, in file order; raises `DataError` naming each bad record and field. With
    `product_ids`, a product the catalog does not have is an error too."""
    path = Path(path)
    issues = IssueCollector(path)
    known = frozenset(product_ids) if product_ids is not None else None
    reviews: list[Review] = []
    seen: dict[str, int] = {}
    for line, record in read_records(path, list_keys=("reviews",)):
        review = _to_review(record, line, known, issues)
        if review is None:
            continue
        if review.review_id in seen:
            issues.add(f"duplicate review id '{review.review_id}' (first seen on line {seen[review.review_id]})",
                       line, "review_id")
            continue
        seen[review.review_id] = line
        reviews.append(review)
    issues.raise_if_any()
    return reviews


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _to_review(record: dict[str, Any], line: int, known: frozenset[str] | None,
               issues: IssueCollector) -> Review | None:
    before = len(issues.issues)
    values = {name: _text(record.get(name)) for name in REVIEW_FIELDS}
    for name in REQUIRED:
        if not values[name]:
            issues.add("missing required value" if name != "text" else "empty review text", line, name)
    product_id = values["product_id"]
    if product_id and known is not None and product_id not in known:
        issues.add(f"unknown product id '{product_id}' (not in the catalog)", line, "product_id")
    rating = _rating(record.get("rating"))
    if values["rating"] and rating is None:
        issues.add(f"rating '{values['rating']}' is not a whole number from 1 to 5", line, "rating")
    day = _date(values["date"])
    if values["date"] and day is None:
        issues.add(f"'{values['date']}' is not an ISO date (e.g. 2026-06-01)", line, "date")
    if len(issues.issues) > before or rating is None or day is None:
        return None
    return Review(values["review_id"] or f"{product_id}-r{line}", product_id, rating, values["title"],
                  " ".join(values["text"].split()), day, values["author"] or None)


def _rating(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    else:
        match = _INTEGER.match(str(value or ""))
        number = int(match.group(1)) if match else 0
    return number if 1 <= number <= 5 else None


def _date(text: str) -> datetime.date | None:
    if not text:
        return None
    try:
        return datetime.date.fromisoformat(text[:10]) if len(text) <= 10 else \
            datetime.datetime.fromisoformat(text).date()
    except ValueError:
        return None
