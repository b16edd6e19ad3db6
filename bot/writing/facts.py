"""A product's fact lines: what a written sentence may say about it, each with an id to trace it back to.

Facts come from the catalog record (title, brand, category, price, attributes, rating, the owner's own description),
the store's facts in `store.yml` that apply to this product (the free-shipping threshold, the warranty for its kind
of product, the return window or its Final Sale status, free exchanges) and, when the store has reviews, a few
short quotes from its best reviews. Each fact belongs to a group (one sentence of a description per group).

>>> facts = product_facts(kb.product("P1001"), kb)
>>> [f.id for f in facts.in_group("build")]
['attr:material', 'attr:weight_g']
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.responder.grounding import CLAIMS, split_sentences
from retrieval.documents import Product
from retrieval.money import money
from retrieval.text import keyword_tokens

GROUPS = ("intro", "highlights", "build", "features", "options", "proof", "store")
GRAMS_PER_OUNCE = 28.3495
WEARABLE_CATEGORIES = ("shoe", "footwear", "jacket", "outerwear", "top", "layer", "pant", "short", "apparel", "cloth")
KNOWN_ATTRIBUTES = ("colors", "color", "sizes", "size", "material", "gender", "weight_g", "waterproof", "capacity",
                    "battery_hours")
MAX_REVIEW_QUOTES = 2
MAX_QUOTE_CHARS = 90
WARRANTY_GENERAL = ("standard", "excludes", "claim")
NOT_ABOUT_PRODUCT = re.compile(r"\b(?:deliver\w*|shipp\w*|arriv\w*|package|parcel|courier|customer service|refund\w*)\b",
                               re.IGNORECASE)


@dataclass(frozen=True)
class Fact:
    """One line a sentence may draw on. `field` names the catalog attribute it states (for coverage); `negated`
    holds words the product is known not to be (a `waterproof: false` attribute), which no sentence may claim."""

    id: str
    group: str
    text: str
    kind: str = "product"  # product | attribute | description | review | store
    field: str = ""
    values: tuple[str, ...] = ()
    negated: tuple[str, ...] = ()


@dataclass
class ProductFacts:
    """Every fact line of one product, and the attributes a description should mention (for coverage)."""

    product: Product
    facts: list[Fact] = field(default_factory=list)
    featured: dict[str, tuple[str, ...]] = field(default_factory=dict)  # attribute -> its values, as written
    withheld: list[tuple[str, str]] = field(default_factory=list)  # (description sentence, why it is no fact)

    def in_group(self, group: str) -> list[Fact]:
        return [f for f in self.facts if f.group == group]

    def by_id(self, fact_id: str) -> Fact | None:
        return next((f for f in self.facts if f.id == fact_id), None)

    @property
    def negated(self) -> tuple[str, ...]:
        return tuple(word for f in self.facts for word in f.negated)

    def texts(self) -> list[str]:
        return [f.text for f in self.facts]


def join_and(items: Iterable[str]) -> str:
    """`a`, `a and b`, `a, b and c`."""
    items = [str(i) for i in items if str(i)]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1] if items else ""


def is_wearable(product: Product) -> bool:
    """Clothing and footwear (a gender or a size is a feature of these, not of a stove)."""
    text = f"{product.category} {product.subcategory}".lower()
    return any(word in text for word in WEARABLE_CATEGORIES) or bool(
        [s for s in product.sizes if s.lower() not in ("one size", "")])


def gender_word(gender: str) -> str:
    """`women` -> `women's`, `men` -> `men's`; other values as written."""
    lowered = gender.strip().lower()
    return {"women": "women's", "woman": "women's", "men": "men's", "man": "men's"}.get(lowered, lowered)


def product_facts(product: Product, kb: Any = None, store_facts: Mapping[str, Any] | None = None,
                  reviews: Iterable[Any] | None = None) -> ProductFacts:
    """The fact lines of `product`: its catalog record, the store facts that apply to it and review quotes.

    `kb` (a `KnowledgeBase`) supplies the store's facts and, when it has them, the product's reviews
    (`reviews_for`); `store_facts` and `reviews` override what it holds."""
    store = dict(store_facts if store_facts is not None else (getattr(kb, "facts", None) or {}))
    if reviews is None and kb is not None and callable(getattr(kb, "reviews_for", None)):
        reviews = kb.reviews_for(product.id)
    out = ProductFacts(product)
    _catalog_facts(product, out)
    _description_facts(product, out)
    _review_facts(product, list(reviews or []), out)
    _store_facts(product, store, out)
    return out


def _catalog_facts(product: Product, out: ProductFacts) -> None:
    attrs = product.attributes
    add = out.facts.append
    add(Fact("title", "intro", f"name: {product.title}", "product", values=(product.title,)))
    if product.brand:
        add(Fact("brand", "intro", f"brand: {product.title} is made by {product.brand}", "product",
                 values=(product.brand,)))
    kind = product.subcategory or product.category
    add(Fact("category", "intro", f"type: {kind} (category {product.category})", "product", values=(kind,)))
    gender = str(attrs.get("gender") or "").strip()
    if gender:
        add(Fact("attr:gender", "intro", f"made for: {gender} ({gender_word(gender)})", "attribute", "gender",
                 (gender,)))
        if gender.lower() != "unisex" or is_wearable(product):
            out.featured["gender"] = (gender,)
    price = money(product.price, product.currency)
    add(Fact("price", "store", f"price: {price}", "product", values=(price,)))
    material = str(attrs.get("material") or "").strip()
    if material:
        add(Fact("attr:material", "build", f"material: {material}", "attribute", "material", (material,)))
        out.featured["material"] = (material,)
    weight = attrs.get("weight_g")
    if isinstance(weight, (int, float)) and not isinstance(weight, bool) and weight > 0:
        ounces = f"{weight / GRAMS_PER_OUNCE:.1f}"
        add(Fact("attr:weight_g", "build", f"weight: {weight:g} g ({ounces} oz)", "attribute", "weight_g",
                 (f"{weight:g}",)))
        out.featured["weight_g"] = (f"{weight:g}",)
    for key, value in attrs.items():
        if key in ("colors", "color", "sizes", "size", "material", "gender", "weight_g"):
            continue
        label = key.replace("_", " ")
        if isinstance(value, bool):
            if value:
                add(Fact(f"attr:{key}", "features", f"{label}: yes, it is {label}", "attribute", key, (label,)))
                out.featured[key] = (label,)
            else:  # a missing feature is no selling point, and no sentence may claim it
                add(Fact(f"attr:{key}", "features", f"{label}: no, it is not {label}", "attribute", key, (label,),
                         negated=(label,)))
        elif key == "battery_hours" and isinstance(value, (int, float)):
            add(Fact(f"attr:{key}", "features", f"battery: runs up to {value:g} hours per charge", "attribute", key,
                     (f"{value:g}",)))
            out.featured[key] = (f"{value:g}",)
        elif isinstance(value, (str, int, float)) and str(value).strip():
            add(Fact(f"attr:{key}", "features", f"{label}: {value}", "attribute", key, (str(value),)))
            out.featured[key] = (str(value),)
        elif isinstance(value, list) and value:
            add(Fact(f"attr:{key}", "features", f"{label}: {join_and(map(str, value))}", "attribute", key,
                     tuple(map(str, value))))
            out.featured[key] = tuple(map(str, value))
    raw_colors = attrs.get("colors") or attrs.get("color") or []
    colors = [str(c).strip() for c in (raw_colors if isinstance(raw_colors, list) else [raw_colors])]
    colors = [c for c in colors if c]
    if colors:
        add(Fact("attr:colors", "options", f"colors: {join_and(colors)}", "attribute", "colors", tuple(colors)))
        out.featured["colors"] = tuple(colors)
    sizes = [str(s) for s in product.sizes if str(s).strip()]
    if sizes:
        add(Fact("attr:sizes", "options", f"sizes: {join_and(sizes)}", "attribute", "sizes", tuple(sizes)))
        out.featured["sizes"] = tuple(sizes)
    if product.rating is not None and product.review_count:
        add(Fact("rating", "proof", f"rating: {product.rating:g} out of 5 from {product.review_count} reviews",
                 "product", values=(f"{product.rating:g}", str(product.review_count))))


def _description_facts(product: Product, out: ProductFacts) -> None:
    """The owner's own description, a sentence a fact (it names features the attributes do not, such as "a
    roomy toe box")."""
    for i, sentence in enumerate(split_sentences(product.description or ""), start=1):
        claims = [label for label, pattern in CLAIMS.items() if re.search(pattern, sentence.lower())]
        if claims:  # "a lifetime guarantee" on a product page is the store's promise to make, not the page's
            out.withheld.append((sentence, f"it claims {', '.join(claims)}, which only the store's facts may state"))
            continue
        out.facts.append(Fact(f"description:{i}", "highlights", sentence, "description"))


def _review_facts(product: Product, reviews: list[Any], out: ProductFacts) -> None:
    """Short quotes from the product's best reviews (4 or 5 stars): a title or a sentence of the text."""
    picked = 0
    for review in sorted(reviews, key=lambda r: (-int(getattr(r, "rating", 0) or 0), str(getattr(r, "review_id", "")))):
        if picked >= MAX_REVIEW_QUOTES or int(getattr(review, "rating", 0) or 0) < 4:
            break
        quote = _quote(str(getattr(review, "title", "") or ""), str(getattr(review, "text", "") or ""))
        if not quote:
            continue
        out.facts.append(Fact(f"review:{review.review_id}", "proof",
                              f'a {review.rating}-star review says: "{quote}"', "review", values=(quote,)))
        picked += 1


def _quote(title: str, text: str) -> str:
    """A short, complete sentence to quote from a review (its first short sentence, else its title), about the
    product rather than the delivery."""
    for sentence in split_sentences(text):
        if 20 <= len(sentence) <= MAX_QUOTE_CHARS and sentence.endswith((".", "!")) and '"' not in sentence \
                and not NOT_ABOUT_PRODUCT.search(sentence):
            return sentence
    title = title.strip()
    return title if 8 <= len(title) <= MAX_QUOTE_CHARS and '"' not in title and not NOT_ABOUT_PRODUCT.search(
        title) else ""


def _store_facts(product: Product, store: Mapping[str, Any], out: ProductFacts) -> None:
    add = out.facts.append
    shipping = store.get("shipping") if isinstance(store.get("shipping"), Mapping) else {}
    threshold = _number(shipping.get("free_shipping_threshold"))
    if threshold is not None:
        add(Fact("store:shipping.free_shipping_threshold", "store",
                 f"free shipping threshold: orders of {money(threshold, product.currency)} or more ship free", "store"))
        if product.price >= threshold:
            add(Fact("store:free_shipping.item", "store",
                     f"at {money(product.price, product.currency)} this item alone reaches the free shipping "
                     f"threshold of {money(threshold, product.currency)}, so it ships free", "store"))
    warranty = store.get("warranty") if isinstance(store.get("warranty"), Mapping) else {}
    line = _warranty_for(product, warranty)
    if line is not None:
        key, text = line
        add(Fact(f"store:warranty.{key}", "store", f"warranty: {text}", "store"))
    returns = store.get("returns") if isinstance(store.get("returns"), Mapping) else {}
    if product.final_sale:
        rule = str(returns.get("final_sale") or "Items marked Final Sale cannot be returned.")
        add(Fact("final_sale", "store", f"this item is marked Final Sale; {rule}", "product"))
    elif _number(returns.get("window_days")) is not None:
        days = int(_number(returns.get("window_days")) or 0)
        condition = str(returns.get("condition") or "").strip()
        add(Fact("store:returns.window_days", "store",
                 f"returns: it can be returned within {days} days" + (f" ({condition})" if condition else ""),
                 "store"))
    exchanges = store.get("exchanges") if isinstance(store.get("exchanges"), Mapping) else {}
    if exchanges.get("cost") and len(out.featured.get("sizes", ())) > 1 and not product.final_sale:
        add(Fact("store:exchanges.cost", "store", f"exchanges: {exchanges['cost']}", "store"))


def _warranty_for(product: Product, warranty: Mapping[str, Any]) -> tuple[str, str] | None:
    """The store's warranty line for this kind of product: a specific one (`electronics`, `packs_and_tents`) when
    the product's category (its first word) or its kind (the last word of the subcategory) is named in it, else
    the standard one (a product with a battery counts as electronics). When unsure, the standard line: it never claims more than the store gives."""
    subcategory = keyword_tokens(product.subcategory)
    category = keyword_tokens(product.category)
    heads = {t for t in (subcategory[-1:] + category[:1])}
    if "battery_hours" in product.attributes:  # a battery-powered lantern or watch is an electronic device
        heads |= set(keyword_tokens("electronics"))
    for key, text in warranty.items():
        if key in WARRANTY_GENERAL or not isinstance(text, str):
            continue
        named = set(keyword_tokens(text + " " + str(key).replace("_", " ")))
        if heads & named:
            return str(key), text
    standard = warranty.get("standard")
    return ("standard", standard) if isinstance(standard, str) else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and re.fullmatch(r"\s*\d+(?:\.\d+)?\s*", value):
        return float(value)
    return None


def store_promotions(store: Mapping[str, Any]) -> list[Fact]:
    """The store's promotions as facts (a campaign may name a code only when one of these holds it)."""
    promotions = store.get("promotions") if isinstance(store.get("promotions"), Mapping) else {}
    out: list[Fact] = []
    for key, value in promotions.items():
        if isinstance(value, Mapping):
            text = "; ".join(f"{k.replace('_', ' ')}: {v}" for k, v in value.items() if v is not None)
        elif isinstance(value, bool):
            text = "yes" if value else "no"
        else:
            text = str(value)
        out.append(Fact(f"store:promotions.{key}", "store", f"{str(key).replace('_', ' ')}: {text}", "store"))
    return out
