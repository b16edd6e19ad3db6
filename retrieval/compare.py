"""A written comparison of two or three products from their catalog records: "compare the Tern Road Runner 3 and
the Lark Road Runner 5", "X vs Y", "difference between X and Y", "which is lighter, X or Y", or "compare them"
after a list. Each line holds one attribute both records give (price, weight, waterproof, rating, battery,
capacity, stock, colours), then a sentence on who is cheaper, lighter and better rated; nothing else is said.

>>> compared = compare(products)
>>> print(compared)
Tern Road Runner 3 vs Lark Road Runner 5:
- price: $156.99 vs $160.95
...
"""

from __future__ import annotations

import re
from collections.abc import Callable

from retrieval.documents import Product
from retrieval.money import money

COMPARE_PATTERN = re.compile(r"\b(?:compare|comparison|compared|vs\.?|versus|difference between|differences between|"
                             r"which is (?:better|lighter|cheaper|warmer|heavier|more \w+)|better than)\b",
                             re.IGNORECASE)
SEPARATOR = re.compile(r"\s*(?:,|\band\b|\bvs\.?|\bversus\b|\bor\b|\bwith\b|\bto\b|\bthan\b|\?|:)\s*", re.IGNORECASE)
THEM = re.compile(r"\b(?:them|these|those|both|the two|the first two|these two|those two)\b", re.IGNORECASE)
MAX_COMPARED = 3


def asks_to_compare(text: str) -> bool:
    return bool(COMPARE_PATTERN.search(text))


def named_products(text: str, resolve: Callable[[str], Product | None], titles: dict[str, Product]) -> list[Product]:
    """The products `text` names, in order: whole titles first, then the pieces between "and", "vs", "or"."""
    lowered = text.lower()
    found: list[tuple[int, Product]] = []
    for title in sorted(titles, key=len, reverse=True):
        for match in re.finditer(rf"\b{re.escape(title)}\b", lowered):
            if not any(start <= match.start() < start + len(p.title) for start, p in found):
                found.append((match.start(), titles[title]))
    if len(found) < 2:
        rest = COMPARE_PATTERN.sub(" ", text)
        for piece in SEPARATOR.split(rest):
            piece = re.sub(r"^\s*(?:the|a|an|between)\s+", "", piece.strip())
            product = resolve(piece) if len(piece) >= 3 else None
            if product is not None and all(product.id != p.id for _, p in found):
                found.append((lowered.find(piece.lower()), product))
    ordered = [p for _, p in sorted(found, key=lambda pair: pair[0])]
    return list({p.id: p for p in ordered}.values())[:MAX_COMPARED]


def _money(p: Product) -> str:
    return money(p.price, p.currency)


def _weight(p: Product) -> str | None:
    grams = p.attributes.get("weight_g")
    return f"{grams:g} g" if isinstance(grams, (int, float)) and not isinstance(grams, bool) else None


def _bool(key: str) -> Callable[[Product], str | None]:
    def read(p: Product) -> str | None:
        value = p.attributes.get(key)
        return ("yes" if value else "no") if isinstance(value, bool) else None
    return read


def _rating(p: Product) -> str | None:
    if p.rating is None:
        return None
    return f"{p.rating:g}/5" + (f" ({p.review_count} reviews)" if p.review_count else "")


def _plain(key: str, unit: str = "") -> Callable[[Product], str | None]:
    def read(p: Product) -> str | None:
        value = p.attributes.get(key)
        if value in (None, "") or isinstance(value, (list, dict, bool)):
            return None
        return f"{value:g}{unit}" if isinstance(value, (int, float)) else f"{value}{unit}"
    return read


ROWS: tuple[tuple[str, Callable[[Product], str | None]], ...] = (
    ("price", _money), ("weight", _weight), ("waterproof", _bool("waterproof")), ("rating", _rating),
    ("battery", _plain("battery_hours", " h")), ("capacity", _plain("capacity")),
    ("stock", lambda p: p.availability), ("colours", lambda p: ", ".join(p.colors) or None),
    ("kind", lambda p: p.subcategory or p.category or None), ("brand", lambda p: p.brand or None),
)


def compare(products: list[Product]) -> str:
    """The comparison, one line per attribute that at least two of the products give, then a summary sentence."""
    lines = [" vs ".join(p.title for p in products) + ":"]
    for label, read in ROWS:
        values = [read(p) for p in products]
        if sum(v is not None for v in values) < 2 or len(set(values)) == 1 and label in ("kind", "brand"):
            continue
        lines.append(f"- {label}: " + " vs ".join(v if v is not None else "not listed" for v in values))
    lines.append(_summary(products))
    return "\n".join(line for line in lines if line)


def _summary(products: list[Product]) -> str:
    """"The Hemlock Boot is cheaper and lighter; the Caribou Boot is rated higher." (only differences)."""
    two = len(products) == 2
    claims: dict[str, list[str]] = {}
    if len({p.price for p in products}) > 1:
        claims.setdefault(min(products, key=lambda p: p.price).title, []).append("cheaper" if two else "the cheapest")
    weights = [(float(p.attributes["weight_g"]), p) for p in products
               if isinstance(p.attributes.get("weight_g"), (int, float))]
    if len(weights) == len(products) and len({w for w, _ in weights}) > 1:
        claims.setdefault(min(weights, key=lambda pair: pair[0])[1].title, []).append(
            "lighter" if two else "the lightest")
    rated = [p for p in products if p.rating is not None]
    if len(rated) == len(products) and len({p.rating for p in rated}) > 1:
        claims.setdefault(max(rated, key=lambda p: p.rating or 0.0).title, []).append(
            "rated higher" if two else "rated highest")
    if not claims:
        return ""
    said = [f"the {title} is {' and '.join(what)}" for title, what in claims.items()]
    text = "; ".join(said)
    return text[0].upper() + text[1:] + "."
