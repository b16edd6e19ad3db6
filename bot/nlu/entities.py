"""Entity extraction: order ids, emails, money and price ranges, quantities, sizes, colours, and product names
and brands looked up in the catalog (typo-tolerant). Output in Rasa's entity shape."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz import fuzz, process

from retrieval.documents import Product
from retrieval.filters import SIZE_WORDS, find_colors, find_price_range

EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
DEFAULT_ORDER_ID = r"(?<![\d$.])#?\d{5,8}\b(?![.,]\d)"
MONEY = re.compile(r"\$\s?\d[\d,]*(?:\.\d{1,2})?|\b\d[\d,]*(?:\.\d{1,2})?\s?(?:dollars|usd|bucks)\b", re.I)
QUANTITY = re.compile(r"\b(\d{1,2}|one|two|three|four|five|six|a couple of)\s+(?:x\s+)?(?:pairs?|pcs|pieces|units|of (?:them|those|these)|more)\b", re.I)
SIZE = re.compile(r"\b(?:size|sz)\s*:?\s*(\d{1,2}(?:\.5)?|xx?s|xx?l|2xl|s|m|l|small|medium|large|extra large|one size)\b", re.I)
NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "a couple of": 2}
EXTRACTOR = "ShopbotEntityExtractor"


@dataclass
class EntityExtractor:
    """Rules and catalog look-ups; regexes, lookup tables and synonyms from `nlu.yml` extend the rules."""

    titles: list[str] = field(default_factory=list)
    brands: list[str] = field(default_factory=list)
    colors: set[str] = field(default_factory=set)
    regexes: dict[str, list[str]] = field(default_factory=dict)
    lookups: dict[str, list[str]] = field(default_factory=dict)
    synonyms: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_catalog(cls, products: list[Product], **rules: Any) -> EntityExtractor:
        colors = {c for p in products for c in p.colors}
        return cls(sorted({p.title for p in products}), sorted({p.brand for p in products if p.brand}), colors, **rules)

    def __post_init__(self) -> None:
        self._order_id = re.compile("|".join(self.regexes.get("order_id", [])) or DEFAULT_ORDER_ID)
        self._lower_titles = [t.lower() for t in self.titles]
        self._title_by_lower = dict(zip(self._lower_titles, self.titles))
        longest_first = sorted(self._lower_titles, key=len, reverse=True)
        self._titles_pattern = re.compile(r"\b(?:" + "|".join(map(re.escape, longest_first)) + r")\b") if self.titles else None
        self._lower_brands = {b.lower(): b for b in self.brands}
        self._brand_names = list(self._lower_brands)

    def extract(self, text: str) -> list[dict[str, Any]]:
        """Entities in `text`, non-overlapping, in order of position."""
        found: list[dict[str, Any]] = []

        def add(entity: str, value: Any, start: int, end: int) -> None:
            if any(start < f["end"] and f["start"] < end for f in found):
                return
            if isinstance(value, str):
                value = self.synonyms.get(value.lower(), value)
            found.append({"entity": entity, "value": value, "start": start, "end": end, "extractor": EXTRACTOR})

        for match in EMAIL.finditer(text):
            add("email", match.group(0), *match.span())
        for match in self._order_id.finditer(text):
            add("order_id", match.group(0).lstrip("#"), *match.span())
        price = find_price_range(text)
        if price is not None:
            start, end = min(s for s, _ in price.spans), max(e for _, e in price.spans)
            add("price_range", {"min": price.min_price, "max": price.max_price}, start, end)
        for match in MONEY.finditer(text):
            amount = float(re.sub(r"[^\d.]", "", match.group(0)))
            add("money", amount, *match.span())
        for match in QUANTITY.finditer(text):
            word = match.group(1).lower()
            add("quantity", NUMBER_WORDS.get(word) or int(word), *match.span())
        for match in SIZE.finditer(text):
            word = match.group(1).lower()
            add("size", SIZE_WORDS.get(word, word.upper() if not word[0].isdigit() else word), *match.span())
        for name, patterns in self.regexes.items():
            if name != "order_id":
                for match in re.finditer("|".join(patterns), text):
                    add(name, match.group(0), *match.span())
        self._catalog(text, add)
        lowered = text.lower()
        for color, start, end in find_colors(lowered, self.colors):
            add("color", color, start, end)
        for name, values in self.lookups.items():
            for value in values:
                for match in re.finditer(rf"\b{re.escape(value.lower())}\b", lowered):
                    add(name, value, *match.span())
        return sorted(found, key=lambda f: f["start"])

    def _catalog(self, text: str, add: Any) -> None:
        """Product titles (exact or fuzzy over word windows) and brands (exact or one typo)."""
        lowered = text.lower()
        words = [(m.start(), m.end()) for m in re.finditer(r"[\w&'-]+", lowered)]
        taken: list[tuple[int, int]] = []
        for match in self._titles_pattern.finditer(lowered) if self._titles_pattern is not None else ():
            add("product", self._title_by_lower[match.group(0)], *match.span())
            taken.append(match.span())
        if self.titles and not taken:
            best = None
            for size in (4, 3, 2):
                for i in range(len(words) - size + 1):
                    start, end = words[i][0], words[i + size - 1][1]
                    window = lowered[start:end]
                    match = process.extractOne(window, self._lower_titles, scorer=fuzz.ratio, score_cutoff=88)
                    if match and (best is None or match[1] > best[0]):
                        best = (match[1], self.titles[match[2]], start, end)
            if best is not None:
                add("product", best[1], best[2], best[3])
        for start, end in words:
            word = lowered[start:end]
            brand = self._lower_brands.get(word)
            if brand is None and len(word) >= 5:
                match = process.extractOne(word, self._brand_names, scorer=fuzz.ratio, score_cutoff=85)
                brand = self._lower_brands[match[0]] if match else None
            if brand is not None:
                add("brand", brand, start, end)
        for brand_lower, brand in self._lower_brands.items():  # multi-word brands ("Alder & Co")
            if " " in brand_lower:
                for match in re.finditer(rf"\b{re.escape(brand_lower)}\b", lowered):
                    add("brand", brand, *match.span())
