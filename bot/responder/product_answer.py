"""A readable answer about one product from its catalog record, never a dump of its fields.

"what does the Sonic 26800 Power Bank do?" gets what the product is for (its description's own first sentences) and
its price, stock and rating in plain words; "is it waterproof?" or "how heavy is it?" gets that fact first. Every
word comes from the record, so the answer is grounded by construction. Used as the reply when the responder quotes
(extractive mode) and as what is said when no generated sentence passes the guard.

>>> product_answer("is the Tern Road Runner 3 waterproof?", product)
'No, the Tern Road Runner 3 is not waterproof. It weighs 220 g (7.8 oz). It costs $156.99 and is in stock.'
"""

from __future__ import annotations

import re
from collections.abc import Callable

from bot.responder.grounding import split_sentences
from retrieval.documents import Product
from retrieval.money import money

ASPECTS: dict[str, re.Pattern[str]] = {
    "waterproof": re.compile(r"\bwater[- ]?proof|\bin the rain\b|\bget wet\b|\bkeeps? water out\b", re.I),
    "weight": re.compile(r"\bweigh\w*|\bheavy\b|\blight(?:weight|er)?\b|\bgrams?\b|\boz\b", re.I),
    "price": re.compile(r"\bhow much\b|\bprice\b|\bcosts?\b|\bexpensive\b|\bcheap\b", re.I),
    "stock": re.compile(r"\bin stock\b|\bavailab\w*|\bsold out\b", re.I),
    "rating": re.compile(r"\brat(?:ed|ing)\b|\breviews?\b|\bgood\b|\bworth\b", re.I),
    "colors": re.compile(r"\bcolou?rs?\b", re.I),
    "sizes": re.compile(r"\bsizes?\b|\bfit\b", re.I),
    "material": re.compile(r"\bmaterials?\b|\bmade (?:of|from)\b|\bfabric\b", re.I),
    "battery": re.compile(r"\bbattery\b|\bcharge\b|\bhow long\b.*\blast\b|\bhours?\b", re.I),
    "capacity": re.compile(r"\bcapacity\b|\blit(?:re|er)s?\b|\bhow (?:big|large)\b|\bhold\b", re.I),
}


def _listing(values: list[str]) -> str:
    return values[0] if len(values) == 1 else ", ".join(values[:-1]) + " and " + values[-1]


def _waterproof(p: Product) -> str | None:
    value = p.attributes.get("waterproof")
    if not isinstance(value, bool):
        return None
    return f"Yes, the {p.title} is waterproof." if value else f"No, the {p.title} is not waterproof."


def _weight(p: Product) -> str | None:
    grams = p.attributes.get("weight_g")
    if not isinstance(grams, (int, float)) or isinstance(grams, bool):
        return None
    return f"It weighs {grams:g} g ({grams / 28.3495:.1f} oz)."


def _price(p: Product) -> str:
    stock = {"in stock": " and is in stock", "out of stock": " and is out of stock at the moment"}.get(
        p.availability, "; I don't have stock information for it")
    return f"It costs {money(p.price, p.currency)}{stock}."


def _rating(p: Product) -> str | None:
    if p.rating is None:
        return None
    count = f" from {p.review_count} review{'s' if p.review_count != 1 else ''}" if p.review_count else ""
    return f"Shoppers rate it {p.rating:g}/5{count}."


def _colors(p: Product) -> str | None:
    return f"It comes in {_listing(list(p.colors))}." if p.colors else None


def _sizes(p: Product) -> str | None:
    sizes = list(p.sizes)
    if not sizes:
        return None
    return "It comes in one size." if [s.lower() for s in sizes] == ["one size"] else f"Sizes: {_listing(sizes)}."


def _material(p: Product) -> str | None:
    material = p.attributes.get("material")
    return f"It is made of {material}." if isinstance(material, str) and material else None


def _battery(p: Product) -> str | None:
    hours = p.attributes.get("battery_hours")
    return f"Its battery lasts up to {hours:g} hours." if isinstance(hours, (int, float)) and not isinstance(
        hours, bool) else None


def _capacity(p: Product) -> str | None:
    capacity = p.attributes.get("capacity")
    return f"Its capacity is {capacity}." if capacity not in (None, "") else None


UNLISTED = {"waterproof": "whether the {} is waterproof", "weight": "what the {} weighs",
            "price": "the {}'s price", "stock": "whether the {} is in stock", "rating": "how shoppers rate the {}",
            "colors": "which colours the {} comes in", "sizes": "which sizes the {} comes in",
            "material": "what the {} is made of", "battery": "how long the {}'s battery lasts",
            "capacity": "the {}'s capacity"}
FACTS: dict[str, Callable[[Product], str | None]] = {
    "waterproof": _waterproof, "weight": _weight, "price": _price, "stock": _price, "rating": _rating,
    "colors": _colors, "sizes": _sizes, "material": _material, "battery": _battery, "capacity": _capacity}


def product_answer(question: str, product: Product, max_sentences: int = 5) -> str:
    """The answer to `question` about `product`, in sentences: the facts asked about first (yes/no for a
    property), then what it is for and its price; a general question ("what does it do?", "tell me about it")
    gets its description's first two sentences, then price, stock and rating."""
    asked = [name for name, pattern in ASPECTS.items() if pattern.search(question)]
    sentences: list[str] = []
    for name in asked:
        fact = FACTS[name](product)
        if fact is None:
            fact = f"The catalog doesn't say {UNLISTED[name].format(product.title)}."
        if fact not in sentences:
            sentences.append(fact)
    described = split_sentences(product.description) if product.description else []
    if not asked:
        sentences += described[:2] or [f"The {product.title} is one of our {product.subcategory or product.category}."]
        for fact in (_battery(product), _capacity(product)):
            if fact:
                sentences.append(fact)
    elif described:
        sentences.append(described[0])
    for fact in (_price(product), _rating(product)):
        if fact and fact not in sentences:
            sentences.append(fact)
    return " ".join(sentences[:max_sentences])
