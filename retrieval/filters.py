"""Structured product filters, and a parser that finds them in a shopper's words.

>>> vocab = CatalogVocabulary(colors={"blue"}, brands={"Kestrel"}, categories={"Running Shoes"})
>>> filters, rest = parse_product_query("running shoes under $80 in blue", vocab)
>>> filters.max_price, filters.colors, filters.categories, rest
(80.0, ('blue',), ('Running Shoes',), 'running shoes')
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from rapidfuzz import fuzz, process

from retrieval.documents import Product
from retrieval.money import money

COLOR_SYNONYMS = {"gray": "grey", "charcoal": "grey", "silver": "grey", "beige": "tan", "khaki": "tan",
                  "maroon": "red", "burgundy": "red", "turquoise": "teal", "violet": "purple", "lime": "green",
                  "cream": "white", "ivory": "white", "dark blue": "navy", "navy blue": "navy", "camo": "olive"}
SIZE_WORDS = {"extra small": "XS", "x-small": "XS", "xs": "XS", "small": "S", "medium": "M", "large": "L",
              "extra large": "XL", "x-large": "XL", "xl": "XL", "xxl": "XXL", "2xl": "XXL", "xx-large": "XXL",
              "s": "S", "m": "M", "l": "L"}
_CURRENCY = r"[$€£]"   # a price in another currency is read as the store's (the reply names the store's currency)
_MONEY = (r"(?:" + _CURRENCY + r"|\b(?:usd|eur|gbp)\b)?\s*(\d{1,6}(?:[.,]\d{1,2})?)\s*"
          r"(?:" + _CURRENCY + r"|usd|euros?|eur|gbp|pounds?|dollars?|bucks)?")
_RANGE = re.compile(r"\b(?:between|from)?\s*[$€£]\s*(\d{1,6}(?:\.\d{1,2})?)\s*(?:-|–|to|and)\s*[$€£]?\s*"
                    r"(\d{1,6}(?:\.\d{1,2})?)"
                    r"|\b(?:between|from)\s+(\d{1,6}(?:\.\d{1,2})?)\s*(?:-|–|to|and)\s*[$€£]?\s*(\d{1,6}(?:\.\d{1,2})?)",
                    re.I)
# full-width forms ("＄１００", "＜") as their ASCII characters, one for one, so spans stay those of the text
_FULL_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20, 0xFFE5: ord("¥"),
                                                                         0xFFE1: ord("£")}
_MAX = re.compile(r"\b(?:under|below|less than|cheaper than|max(?:imum)?|up to|at most|no more than|within|"
                  r"not more than|budget(?: of| is)?)\s*" + _MONEY + r"|<=?\s*" + _MONEY +
                  r"|" + _MONEY + r"\s*(?:or|and) (?:less|under|below|cheaper)\b", re.I)
_MIN = re.compile(r"\b(?:over|above|more than|at least|min(?:imum)?|starting at|pricier than)\s*" + _MONEY +
                  r"|>=?\s*" + _MONEY + r"|" + _MONEY + r"\s*(?:or|and) (?:more|over|above|up)\b", re.I)
_AROUND = re.compile(r"\b(?:around|about|approximately|roughly|~)\s*" + _MONEY, re.I)
_SIZE = re.compile(r"\b(?:size|sz)\s*:?\s*(\d{1,2}(?:\.5)?|xx?s|xx?l|2xl|s|m|l|small|medium|large|extra large|one size)\b"
                   r"|\b(extra small|extra large|x-small|x-large|xx-large|xxl|2xl|xl|xs)\b"
                   r"|\bin (?:a |an )?(small|medium|large)\b", re.I)
_IN_STOCK = re.compile(r"\b(?:in stock|in-stock|available now|available today|available|ready to ship|not sold out)\b", re.I)
_GENDER = re.compile(r"\b(?:(men|women)(?:'s|s)?|for (men|women|him|her)|(?:mens|womens)|(male|female))\b", re.I)


@dataclass(frozen=True)
class ProductFilters:
    """Hard constraints on products; an empty filter matches everything."""

    min_price: float | None = None
    max_price: float | None = None
    colors: tuple[str, ...] = ()
    sizes: tuple[str, ...] = ()
    brands: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    in_stock: bool | None = None
    gender: str | None = None
    exclude_ids: tuple[str, ...] = field(default=())

    def matches(self, product: Product) -> bool:
        if self.min_price is not None and product.price < self.min_price:
            return False
        if self.max_price is not None and product.price > self.max_price:
            return False
        if self.colors and not set(self.colors) & set(product.colors):
            return False
        if self.sizes and not _size_matches(self.sizes, product.sizes):
            return False
        if self.brands and product.brand.lower() not in {b.lower() for b in self.brands}:
            return False
        if self.categories and product.category.lower() not in {c.lower() for c in self.categories}:
            return False
        if self.in_stock and not product.in_stock:
            return False
        if self.gender and str(product.attributes.get("gender", "unisex")).lower() not in (self.gender, "unisex"):
            return False
        return product.id not in self.exclude_ids

    def is_empty(self) -> bool:
        return self == ProductFilters()

    def merged(self, other: ProductFilters) -> ProductFilters:
        """`other`'s set values win; unset values keep this filter's."""
        changes = {k: v for k, v in other.as_dict().items() if v not in (None, ())}
        return replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        return {"min_price": self.min_price, "max_price": self.max_price, "colors": self.colors, "sizes": self.sizes,
                "brands": self.brands, "categories": self.categories, "in_stock": self.in_stock,
                "gender": self.gender, "exclude_ids": self.exclude_ids}

    def describe(self, currency: str = "USD") -> str:
        """Human words for the filter, e.g. `"under $80, blue, in stock"`, prices in `currency` ("under €80")."""
        parts = []
        low = None if self.min_price is None else money(self.min_price, currency, whole=True)
        high = None if self.max_price is None else money(self.max_price, currency, whole=True)
        if low is not None and high is not None:
            parts.append(f"{low}-{high}")
        elif high is not None:
            parts.append(f"under {high}")
        elif low is not None:
            parts.append(f"over {low}")
        parts += list(self.brands) + list(self.categories) + list(self.colors)
        parts += [f"size {s}" for s in self.sizes]
        if self.gender:
            parts.append(f"{self.gender}'s")
        if self.in_stock:
            parts.append("in stock")
        return ", ".join(parts)


@dataclass(frozen=True)
class PriceRange:
    """A price constraint found in text, with the character spans that state it."""

    min_price: float | None
    max_price: float | None
    spans: tuple[tuple[int, int], ...]


def find_price_range(text: str) -> PriceRange | None:
    """"between $50 and $100", "under 80 dollars", "over $150", "around $60" (+-20%), or None. Full-width
    characters ("under ＄１００") read as their ASCII forms; "€" and "£" as the store's currency."""
    text = text.translate(_FULL_WIDTH)
    if (match := _RANGE.search(text)):
        low, high = [float(g.replace(",", ".")) for g in match.groups() if g is not None]
        return PriceRange(min(low, high), max(low, high), (match.span(),))
    low = high = None
    spans = []
    if (match := _MAX.search(text)):
        high = _money(match)
        spans.append(match.span())
    if (match := _MIN.search(text)):
        low = _money(match)
        spans.append(match.span())
    if not spans and (match := _AROUND.search(text)):
        price = _money(match)
        return PriceRange(round(price * 0.8, 2), round(price * 1.2, 2), (match.span(),))
    return PriceRange(low, high, tuple(spans)) if spans else None


@dataclass
class CatalogVocabulary:
    """The colours, brands and categories a catalog has, for recognising them in text."""

    colors: set[str] = field(default_factory=set)
    brands: set[str] = field(default_factory=set)
    categories: set[str] = field(default_factory=set)
    subcategories: dict[str, str] = field(default_factory=dict)  # subcategory phrase -> category

    def category_phrases(self) -> dict[str, str]:
        """Phrases that name a category: subcategories ("rain jacket"), then the plural nouns of category
        names ("Jackets & Outerwear" -> "jacket"), singular, when only one category uses them."""
        phrases = dict(self.subcategories)
        parts: dict[str, set[str]] = {}
        for category in self.categories:
            for part in re.split(r"\s*(?:&|\band\b|,)\s*", category.lower()):
                if part.endswith("s") and len(part) > 3:
                    parts.setdefault(part[:-1], set()).add(category)
        for part, owners in parts.items():
            if len(owners) == 1:
                phrases.setdefault(part, next(iter(owners)))
        return phrases

    @classmethod
    def from_products(cls, products: list[Product]) -> CatalogVocabulary:
        vocab = cls()
        for product in products:
            vocab.colors.update(product.colors)
            if product.brand:
                vocab.brands.add(product.brand)
            if product.category:
                vocab.categories.add(product.category)
            if product.subcategory and product.category:
                vocab.subcategories.setdefault(product.subcategory.lower(), product.category)
        return vocab


def parse_product_query(text: str, vocab: CatalogVocabulary) -> tuple[ProductFilters, str]:
    """Find price, colour, size, brand, category, stock and gender constraints in `text`.

    Returns the filters and the text with the filter phrases removed (what is left to rank by meaning).
    """
    rest = " " + text.translate(_FULL_WIDTH) + " "
    values: dict[str, Any] = {}

    def take(match: re.Match[str]) -> None:
        nonlocal rest
        rest = rest.replace(match.group(0), " ", 1)

    price = find_price_range(rest)
    if price is not None:
        if price.min_price is not None:
            values["min_price"] = price.min_price
        if price.max_price is not None:
            values["max_price"] = price.max_price
        for start, end in sorted(price.spans, reverse=True):
            rest = rest[:start] + " " + rest[end:]

    lowered = rest.lower()
    mentions = find_colors(lowered, vocab.colors)
    colors = [color for color, _, _ in mentions]
    for _, start, end in sorted(mentions, key=lambda m: -m[1]):  # cut "black" and "in black" from the rest
        if (before := re.search(r"\bin\s+$", lowered[:start])):
            start = before.start()
        lowered = lowered[:start] + " " * (end - start) + lowered[end:]
    if colors:
        values["colors"] = tuple(dict.fromkeys(colors))

    sizes = []
    for match in _SIZE.finditer(lowered):
        word = next(g for g in match.groups() if g)
        sizes.append(SIZE_WORDS.get(word.lower(), word.upper() if not word[0].isdigit() else word))
    if sizes:
        values["sizes"] = tuple(dict.fromkeys(sizes))
        lowered = _SIZE.sub(" ", lowered)

    brands = _find_names(lowered, vocab.brands)
    if brands:
        values["brands"] = tuple(brands)
        for brand in brands:
            lowered = re.sub(rf"\b{re.escape(brand.lower())}\b", " ", lowered)

    categories = _find_names(lowered, vocab.categories, fuzzy=False)
    if not categories:
        for phrase, category in sorted(vocab.category_phrases().items(), key=lambda kv: -len(kv[0])):
            if re.search(rf"\b{re.escape(phrase)}s?\b", lowered):
                categories.append(category)
                break
    if categories:
        values["categories"] = tuple(dict.fromkeys(categories))

    if (match := _IN_STOCK.search(lowered)):
        values["in_stock"] = True
        lowered = lowered.replace(match.group(0), " ")
    if (match := _GENDER.search(lowered)):
        word = next(g for g in match.groups() if g).lower()
        values["gender"] = "women" if word in ("women", "her", "female", "womens") else "men"

    remaining = re.sub(r"\s+", " ", lowered).strip(" ,.?!")
    return ProductFilters(**values), remaining


def _money(match: re.Match[str]) -> float:
    return float(next(g for g in match.groups() if g).replace(",", ""))


def _find_names(text: str, names: set[str], fuzzy: bool = True) -> list[str]:
    """Names that appear in the text as whole words; with `fuzzy`, single words within a small typo too."""
    text = _ampersands(text)
    found = [n for n in sorted(names, key=len, reverse=True)
             if re.search(rf"\b{re.escape(_ampersands(n.lower()))}s?\b", text)]
    if found or not fuzzy:
        return found
    single = {n.lower(): n for n in names if " " not in n and len(n) >= 5}
    for token in set(re.findall(r"[a-z][a-z&']{4,}", text)):
        match = process.extractOne(token, list(single), scorer=fuzz.ratio, score_cutoff=85)
        if match:
            found.append(single[match[0]])
    return found


def _ampersands(text: str) -> str:
    """Spell '&' as 'and', so 'Bags & Packs' and 'bags and packs' read alike."""
    return re.sub(r"\s*&\s*", " and ", text)


def find_colors(text: str, colors: set[str]) -> list[tuple[str, int, int]]:
    """`(colour, start, end)` for each mention of one of `colors` (or a synonym of one) in lower-cased `text`."""
    phrases = sorted(COLOR_SYNONYMS.items(), key=lambda kv: -len(kv[0])) + [(c, c) for c in sorted(colors, key=len, reverse=True)]
    return [(color, m.start(), m.end()) for phrase, color in phrases if color in colors
            for m in re.finditer(rf"\b{re.escape(phrase)}\b", text)]


def _size_matches(wanted: tuple[str, ...], available: tuple[str, ...]) -> bool:
    have = {s.upper() for s in available}
    return any(w.upper() in have for w in wanted) or "ONE SIZE" in have
