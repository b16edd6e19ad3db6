"""An independent check of written product copy: reads the raw catalog, store.yml and reviews itself and uses
none of `bot.writing` or the grounding guard, so a fault in the tracer is not hidden by the same fault here.

Unsupported facts it counts in a text about one product:

- a number that is not in the product's raw record, its reviews or store.yml (grams to ounces are converted);
- a "$" amount that is neither the product's price nor an amount of store.yml;
- an "N-year" warranty other than the one the demo store gives that kind of product (electronics and lanterns 2,
  bags and tents 5, else 1);
- another product's title or brand;
- a colour, gender or material word of the catalog that this product's record does not hold;
- a false yes/no attribute claimed ("waterproof" for `waterproof: false`, without a "not");
- claim words (lifetime, guarantee, unlimited, forever, money back, price match, no questions asked) and a percent
  or promo code that store.yml does not hold; "free" outside a sentence naming the free-shipping threshold or
  exchanges;
- a quotation that is not word for word in one of the product's reviews.

Coverage: the share of the product's attributes (not empty, not a false yes/no, gender only for things with sizes)
that the text mentions.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")
CLAIMS = ("lifetime", "guarantee", "unlimited", "forever", "money back", "money-back", "price match",
          "no questions asked", "best in class", "#1")
NEGATION = re.compile(r"\b(?:not|no|never|without)\b|n't\b")
QUOTE = re.compile(r"\"([^\"]{3,})\"")
WORD = re.compile(r"[a-z][a-z-]*")
SMALL = {"a", "an", "and", "with", "of", "the", "in", "for", "g", "to", "on", "at", "made", "from", "by", "built",
         "it", "is"}


def _num(raw: str) -> str:
    value = float(raw.replace(",", ""))
    return str(int(value)) if value == int(value) else f"{value:.2f}".rstrip("0").rstrip(".")


def numbers(text: str) -> set[str]:
    return {_num(m.group(0)) for m in NUMBER.finditer(text)}


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z\"$0-9])", text) if s.strip()]


@dataclass
class Store:
    """The raw demo data this check reads."""

    products: dict[str, dict[str, Any]]
    store_text: str
    reviews: dict[str, list[dict[str, Any]]]

    @classmethod
    def load(cls, kb: Path) -> Store:
        products = {}
        for line in (kb / "catalog.jsonl").read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                products[record["id"]] = record
        store_text = (kb / "store.yml").read_text(encoding="utf-8")
        yaml.safe_load(store_text)  # a broken store.yml fails here, not silently
        reviews: dict[str, list[dict[str, Any]]] = {}
        path = kb / "reviews.jsonl"
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    record = json.loads(line)
                    reviews.setdefault(str(record.get("product_id")), []).append(record)
        return cls(products, store_text, reviews)

    def vocabulary(self, key: str) -> set[str]:
        out: set[str] = set()
        for record in self.products.values():
            value = record.get("attributes", {}).get(key)
            for item in value if isinstance(value, list) else [value] if value else []:
                out |= set(WORD.findall(str(item).lower()))
        return out - SMALL


def warranty_years(record: dict[str, Any]) -> int:
    """The demo store's warranty for a product's kind (as `scripts/build_demo_store.py` writes it)."""
    if record.get("category") == "Electronics" or record.get("subcategory") == "lantern":
        return 2
    if record.get("category") == "Backpacks & Bags" or "tent" in str(record.get("subcategory", "")):
        return 5
    return 1


def check(text: str, product_id: str, store: Store) -> dict[str, Any]:
    """The unsupported facts in `text` (a description of `product_id`) and its attribute coverage."""
    record = store.products[product_id]
    attributes = record.get("attributes", {})
    reviews = store.reviews.get(product_id, [])
    review_text = " ".join(f"{r.get('title', '')} {r.get('text', '')}" for r in reviews)
    own = json.dumps(record) + " " + review_text
    lowered_own = own.lower()
    problems: list[str] = []
    body = text.replace(record["title"], record["title"].replace('"', " inch"))  # the Lyra 5" Short: no quote
    for quote in QUOTE.findall(body):
        if quote.strip().lower() not in review_text.lower():
            problems.append(f"quote not in a review: {quote!r}")
        body = body.replace(f'"{quote}"', " ")
    lowered = body.lower()
    allowed = numbers(own) | numbers(store.store_text) | numbers(record["title"])
    weight = attributes.get("weight_g")
    if isinstance(weight, (int, float)):
        allowed.add(_num(f"{weight / 28.3495:.1f}"))
    for number in numbers(body) - allowed:
        problems.append(f"number {number}")
    for amount in re.findall(r"\$\s?(\d[\d,]*(?:\.\d+)?)", body):
        if _num(amount) != _num(str(record["price"])) and f"{_num(amount)}" not in numbers(store.store_text):
            problems.append(f"amount ${amount}")
    for years in re.findall(r"(\d+)-year", lowered):
        if int(years) != warranty_years(record):
            problems.append(f"{years}-year warranty (this kind has {warranty_years(record)})")
    for other in store.products.values():
        if other["id"] == product_id:
            continue
        title = other["title"].lower()
        if re.search(rf"(?<!\w){re.escape(title)}(?!\w)", lowered) and title not in record["title"].lower():
            problems.append(f"other product {other['title']}")
        brand = str(other.get("brand", "")).lower()
        if brand and brand != str(record.get("brand", "")).lower() and re.search(rf"\b{re.escape(brand)}\b", lowered) \
                and brand not in store.store_text.lower():
            problems.append(f"other brand {other['brand']}")
    words = set(WORD.findall(lowered))
    words |= {w.split("'")[0] for w in re.findall(r"[a-z]+'s", lowered)}
    own_words = set(WORD.findall(lowered_own))
    for key in ("colors", "material"):
        for word in (store.vocabulary(key) & words) - own_words:
            problems.append(f"{key[:-1] if key == 'colors' else key} word '{word}'")
    gender = str(attributes.get("gender", "")).lower()
    for word in ("men", "women", "unisex"):
        if word in words and word != gender:
            problems.append(f"gender '{word}' (the product is {gender or 'not gendered'})")
    for key, value in attributes.items():
        if value is False:
            label = key.replace("_", " ")
            for sentence in _sentences(body):
                if label in sentence.lower() and not NEGATION.search(sentence.lower()):
                    problems.append(f"claims {label}")
    for claim in CLAIMS:
        if claim in lowered and claim not in store.store_text.lower():
            problems.append(f"claim '{claim}'")
    for sentence in _sentences(body):
        s = sentence.lower()
        if re.search(r"(?<![\w-])free\b", s) and not ("75.00" in s or "exchange" in s):
            problems.append(f"'free' without the threshold: {sentence!r}")
        for code in re.findall(r"\b[A-Z]{2,}\d+\b|\b[A-Z]{4,}\b", sentence):
            if code not in store.store_text and code not in own:
                problems.append(f"code {code}")
        if "%" in s and not all(p in store.store_text or p in own for p in re.findall(r"\d+%", sentence)):
            problems.append("percent")
    return {"unsupported": problems, **coverage(text, record)}


def featured(record: dict[str, Any]) -> dict[str, Any]:
    """The attributes a description should mention."""
    attributes = record.get("attributes", {})
    sizes = [s for s in attributes.get("sizes") or [] if str(s).lower() != "one size"]
    out = {}
    for key, value in attributes.items():
        if value in (None, "", [], False):
            continue
        if key == "gender" and str(value).lower() == "unisex" and not sizes:
            continue
        out[key] = value
    return out


def coverage(text: str, record: dict[str, Any]) -> dict[str, Any]:
    lowered = text.lower()
    found = numbers(text)
    said = []
    for key, value in featured(record).items():
        if key == "colors":
            ok = all(re.search(rf"\b{re.escape(str(c).lower())}\b", lowered) for c in value)
        elif key == "sizes":
            values = [str(s).lower() for s in value]
            ranged = f"{values[0]} to {values[-1]}" in lowered
            ok = ranged or all(re.search(rf"(?<![\w/.]){re.escape(v)}(?![\w/]|\.\d)", lowered) for v in values)
        elif isinstance(value, bool):
            ok = key.replace("_", " ") in lowered
        elif isinstance(value, (int, float)):
            ok = _num(str(value)) in found
        elif key == "capacity":
            ok = bool(numbers(str(value)) & found)
        elif key == "gender":
            ok = re.search(rf"\b{re.escape(str(value).lower())}", lowered) is not None
        else:
            wanted = set(WORD.findall(str(value).lower())) - SMALL
            ok = bool(wanted) and len(wanted & set(WORD.findall(lowered))) / len(wanted) >= 0.6
        if ok:
            said.append(key)
    attributes = list(featured(record))
    return {"attributes": attributes, "mentioned": said,
            "coverage": round(len(said) / len(attributes), 3) if attributes else 1.0}
