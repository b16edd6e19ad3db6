"""What a product request asks for besides its hard filters, and which products really have it.

The filters (`retrieval.filters`) hold prices, colours, sizes, brands and categories. This module reads the rest of
the request: the *kind* of product it names ("trail running shoes", "boots", "headphones"), the *features* it
requires ("waterproof", "noise cancelling"), an ordering ("cheapest", "best rated", "lightest"), and words the
catalog never uses ("HDMI cable"). A kind is a subcategory named in full ("trail running shoes": that subcategory
only) or a head noun ("boots": products whose title, subcategory or tags say boot); a category's nouns never make a
product that kind (recovery sandals sit in "Running Shoes" but are no shoes).

>>> terms = CatalogTerms.from_products(kb.products)
>>> request = terms.read("waterproof boots")
>>> request.heads, request.features
(('boot',), ('waterproof',))
>>> [p.title for p in kb.products if request.fits(p)][:2]
['Bobcat Trek Mid', 'Canyon Mid WP']
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from retrieval.documents import Product
from retrieval.text import keyword_tokens, words

Order = Literal["price_asc", "price_desc", "rating", "lightest"]

# properties a shopper requires when they name them (a product without it does not fit); any boolean attribute of
# the catalog ("waterproof": true) is one as well. Use words ("hiking", "rain", "travel") only rank.
FEATURES: dict[str, str] = {
    "waterproof": r"water[- ]?proof",
    "noise cancelling": r"noise[- ]?cancel\w*|\banc\b",
    "wireless": r"\bwireless\b|\bcordless\b",
    "bluetooth": r"\bbluetooth\b",
    "insulated": r"\binsulat\w*",
    "vegan": r"\bvegan\b",
    "recycled": r"\brecycled\b",
    "packable": r"\bpackable\b",
    "reflective": r"\breflective\b",
    "polarized": r"\bpolari[sz]ed\b",
    "usb-c": r"\busb[- ]?c\b",
    "merino": r"\bmerino\b",
    "quick-dry": r"\bquick[- ]?dry\w*",
    "rechargeable": r"\brechargeable\b",
    "freestanding": r"\bfree[- ]?standing\b",
    "gps": r"\bgps\b",
    "heart rate": r"\bheart[- ]?rate\b",
    "touchscreen": r"\btouch[- ]?screen\b",
}
NEGATED = r"(?:\bnot\s+|\bnon[- ]|\bno\s+)"
# shoppers' words for kinds, as the head nouns a catalog uses (stemmed when read)
SYNONYMS: dict[str, tuple[str, ...]] = {
    "sneaker": ("shoe",), "sneakers": ("shoe",), "trainers": ("shoe",), "trainer": ("shoe",),
    "parka": ("jacket",), "coat": ("jacket",), "anorak": ("jacket",), "raincoat": ("jacket",),
    "rucksack": ("backpack", "pack"), "knapsack": ("backpack", "pack"), "earphones": ("earbud", "headphones"),
    "earphone": ("earbud", "headphones"), "headset": ("headphones",), "flipflops": ("sandal",),
    "flip-flops": ("sandal",), "slides": ("sandal", "slide"), "trousers": ("pants",), "leggings": ("tights",),
    "sweatshirt": ("hoodie",), "tee": ("t-shirt", "shirt"), "tees": ("t-shirt", "shirt"), "flashlight": ("headlamp", "lantern"),
    "torch": ("headlamp", "lantern"), "charger": ("power bank", "charger"), "thermos": ("mug", "bottle"),
}
ORDERS: tuple[tuple[Order, re.Pattern[str]], ...] = (
    ("price_asc", re.compile(r"\b(?:cheapest|least expensive|lowest[- ]priced?|most affordable|lowest price)\b", re.I)),
    ("price_desc", re.compile(r"\b(?:most expensive|priciest|highest[- ]priced?|most premium)\b", re.I)),
    ("rating", re.compile(r"\b(?:best|top|highest)[- ]rated\b|\bbest reviewed\b|\bmost popular\b", re.I)),
    ("lightest", re.compile(r"\b(?:lightest|lightest weight|most lightweight)\b", re.I)),
)
# words that say nothing about what is wanted: requests, people, occasions, vague nouns and adjectives
FILLER = frozenset("""
show see find get buy want need looking look search searching recommend suggest something anything stuff thing things
item items product products gear options option kind type sort pair pairs set any some one ones good great nice best
cool decent quality new cheap cheaper affordable budget inexpensive expensive pricey price prices priced cost costs
value money dollar dollars buck bucks usd eur euro euros pound pounds gbp please sell carry stock got have has do does
you your we us our store shop like love also maybe really very much more most less least lot lots everything around
about under below over above between within cheapest priciest lightest top rated popular reviewed recommended gift
gifts present presents dad mom mum father mother wife husband son daughter kid kids child children boyfriend
girlfriend friend brother sister grandma grandpa grandmother grandfather myself him her them men women man woman
mens womens unisex male female adult adults birthday christmas holiday holidays anniversary today tomorrow week
available ship shipping deliver delivery fast free sale deal deals offer offers discount discounts online order
""".split())
NO_MATCH_SIMILARITY = 0.45   # a head-less request this far from every product names a kind the store lacks


def _stems(text: str) -> list[str]:
    return keyword_tokens(text.replace("-", " "))


@dataclass(frozen=True)
class Request:
    """What one product request names beyond its filters (all words stemmed, as the keyword index stems them)."""

    subcategories: tuple[str, ...] = ()   # subcategories named in full ("trail running shoes")
    heads: tuple[str, ...] = ()           # head nouns of kinds ("boot"); a product fits with any of them
    features: tuple[str, ...] = ()        # required properties, by `FEATURES` name
    order: Order | None = None
    content: tuple[str, ...] = ()         # the request's own words, filler out, as written ("HDMI", "cable")
    category_words: tuple[str, ...] = ()  # stems of a category named by its name ("hiking footwear")
    feature_patterns: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def names_a_kind(self) -> bool:
        return bool(self.subcategories or self.heads)

    @property
    def phrase(self) -> str:
        """The shopper's words for what they want: "trail running shoes", "noise cancelling headphones"."""
        return " ".join(self.content)

    def fits_kind(self, product: Product) -> bool:
        """Whether the product is the kind asked for (a request naming none: every product is)."""
        if self.subcategories:
            return product.subcategory.lower() in self.subcategories
        if self.heads:
            own = identity(product)
            return any(head in own for head in self.heads)
        return True

    def has_features(self, product: Product) -> bool:
        """Whether the product has every required feature."""
        return all(has_feature(product, name, self.feature_patterns.get(name, FEATURES.get(name, re.escape(name))))
                   for name in self.features)

    def fits(self, product: Product) -> bool:
        return self.fits_kind(product) and self.has_features(product)

    def missing(self, product: Product) -> list[str]:
        """The required features this product lacks."""
        return [name for name in self.features
                if not has_feature(product, name, self.feature_patterns.get(name, FEATURES.get(name, re.escape(name))))]


def identity(product: Product) -> set[str]:
    """The stems that say what a product is: its title, subcategory and tags (not its category: a recovery sandal
    in "Running Shoes" is no shoe)."""
    return set(_stems(" ".join([product.title, product.subcategory, *product.tags])))


def has_feature(product: Product, name: str, pattern: str) -> bool:
    """A boolean attribute of that name decides; else the product's tags, title, description or material say it
    (and do not negate it: "not waterproof")."""
    value = product.attributes.get(name.replace(" ", "_").replace("-", "_"))
    if isinstance(value, bool):
        return value
    text = " ".join([product.title, product.subcategory, " ".join(product.tags), product.description,
                     str(product.attributes.get("material") or "")]).replace("-", " ")
    found = [m for m in re.finditer(pattern, text, re.I)]
    return any(not re.search(NEGATED + r"$", text[max(0, m.start() - 6): m.start()], re.I) for m in found)


@dataclass
class CatalogTerms:
    """The catalog's vocabulary of kinds and features, for reading requests."""

    subcategories: dict[str, str] = field(default_factory=dict)   # lower-case subcategory -> itself
    heads: set[str] = field(default_factory=set)                  # stems of kind head nouns
    category_heads: dict[str, set[str]] = field(default_factory=dict)  # category -> stems of its own nouns
    features: dict[str, str] = field(default_factory=dict)        # feature name -> pattern (present in the catalog)
    known: set[str] = field(default_factory=set)                  # every stem the catalog's text uses
    categories: list[str] = field(default_factory=list)

    @classmethod
    def from_products(cls, products: list[Product]) -> CatalogTerms:
        terms = cls()
        booleans = {k for p in products for k, v in p.attributes.items() if isinstance(v, bool)}
        corpus = []
        for product in products:
            if product.subcategory:
                sub = product.subcategory.lower()
                terms.subcategories[sub] = sub
                last = _stems(sub)
                if last:
                    terms.heads.add(last[-1])
            if product.category and product.category not in terms.category_heads:
                terms.categories.append(product.category)
                parts = re.split(r"\s*(?:&|\band\b|,)\s*", product.category.lower())
                terms.category_heads[product.category] = {s for part in parts for s in _stems(part)[-1:]}
            corpus.append(" ".join([product.title, product.subcategory, product.category, " ".join(product.tags),
                                    product.description, str(product.attributes.get("material") or "")]))
        text = " ".join(corpus).replace("-", " ")
        terms.known = set(_stems(text))
        for name, pattern in FEATURES.items():
            if re.search(pattern, text, re.I):
                terms.features[name] = pattern
        for key in sorted(booleans):
            name = key.replace("_", " ")
            terms.features.setdefault(name, r"\b" + re.escape(name).replace(r"\ ", r"[- ]?") + r"\b")
        return terms

    def read(self, query: str, categories: tuple[str, ...] = (), original: str = "") -> Request:
        """The request in `query` (the shopper's words with the filter phrases taken out); `categories` are the
        categories the filters hold (a category named by its own name asks for no narrower kind); `original`, the
        message as written, gives the shopper's own casing ("HDMI")."""
        text = " " + query.lower().replace("’", "'") + " "
        order = next((name for name, pattern in ORDERS if pattern.search(text)), None)
        for _, pattern in ORDERS:
            text = pattern.sub(" ", text)
        features: list[str] = []
        for name, pattern in self.features.items():
            if re.search(pattern, text.replace("-", " "), re.I):
                features.append(name)
        cased = {w.lower(): w for w in re.findall(r"[\w][\w'&+-]*", original.replace("’", "'"))}
        content = [cased.get(w.lower(), w) for w in re.findall(r"[\w][\w'&+-]*", query.replace("’", "'"))
                   if not _filler(w) and not ORDERS_WORDS.match(w)]
        named_categories = tuple(c for c in categories if _ampersands(c.lower()) in _ampersands(text))
        category_words = {s for c in named_categories for s in _stems(c)}
        subcategories = [sub for sub in sorted(self.subcategories, key=len, reverse=True)
                         if re.search(rf"\b{re.escape(sub[:-1] if sub.endswith('s') else sub)}s?\b", text)]
        consumed = {s for sub in subcategories for s in _stems(sub)}
        heads: list[str] = []
        for word in words(text):
            stem = (_stems(word) or [""])[0]
            mapped = SYNONYMS.get(word) or SYNONYMS.get(stem)
            candidates = [h for m in mapped for h in _stems(m)[-1:]] if mapped else [stem]
            for head in candidates:
                if head in self.heads and head not in consumed and head not in heads:
                    heads.append(head)
        feature_stems = {s for name in features for s in _stems(name)}
        heads = [h for h in heads if h not in feature_stems]
        return Request(tuple(subcategories), tuple(heads), tuple(features), order, tuple(content),
                       tuple(sorted(category_words)), {n: self.features[n] for n in features})

    def unknown(self, request: Request) -> list[str]:
        """The request's words the catalog never uses (typos within one letter or two count as known)."""
        return [w for w in request.content if not set(_stems(w)) <= self.known]


ORDERS_WORDS = re.compile(r"^(?:cheapest|priciest|lightest|rated|reviewed|popular|least|lowest|highest|most)$", re.I)


def _filler(word: str) -> bool:
    lowered = word.lower().strip("'")
    return lowered in FILLER or not _stems(lowered) or lowered.isdigit() or bool(re.fullmatch(r"[\d.,$€£]+", lowered))


def _ampersands(text: str) -> str:
    return re.sub(r"\s*&\s*", " and ", text)


def plural(phrase: str) -> str:
    """A rough English plural of a noun phrase's last word ("HDMI cable" -> "HDMI cables"); phrases ending in s
    are left alone."""
    if not phrase:
        return phrase
    head, _, last = phrase.rpartition(" ")
    if last.lower().endswith(("s", "x")):
        return phrase
    if last.isupper():
        out = last + "s"
    elif re.search(r"[^aeiou]y$", last, re.I):
        out = last[:-1] + "ies"
    elif last.lower().endswith(("ch", "sh")):
        out = last + "es"
    else:
        out = last + "s"
    return f"{head} {out}".strip()
