"""In-chat product recommendations: cards for a shopper's request, and follow-ups that refine the last list.

"waterproof jackets under $150" gives cards; then "cheaper?" keeps the request and lowers the price, "in black?"
adds a colour, "any from Kestrel?" a brand. The state of the last list is a plain dict, so the dialogue tracker
can keep it in a slot. Lives in `retrieval/` so the rasa-sdk actions can use it without importing `bot/`.

>>> recommender = Recommender(product_search)
>>> first = recommender.recommend("waterproof jackets under $150")
>>> cheaper = recommender.recommend("cheaper?", first.state)
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from retrieval.documents import Product
from retrieval.filters import ProductFilters, parse_product_query
from retrieval.products import ProductResults, ProductSearch

CHEAPER = re.compile(r"\b(?:cheaper|less expensive|lower price|more affordable|budget|on a budget|too expensive|"
                     r"too pricey|something cheap)\b", re.IGNORECASE)
PRICIER = re.compile(r"\b(?:pricier|more expensive|higher[- ]end|premium|better quality|top of the range)\b",
                     re.IGNORECASE)
FOLLOW_UP_WORDS = 4  # a message this short that only adds constraints refines the last list


@dataclass
class ProductCard:
    """What a channel shows for one product."""

    id: str
    title: str
    price: float
    currency: str
    image: str
    link: str
    rating: float | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Recommendation:
    """Cards, the lead sentence, and the state for follow-ups."""

    cards: list[ProductCard]
    lead: str
    state: dict[str, Any]
    results: ProductResults | None = None
    refined: bool = False
    notes: list[str] = field(default_factory=list)


class Recommender:
    """Product cards from `ProductSearch`, honouring filters, with follow-up refinement."""

    def __init__(self, search: ProductSearch, store_url: str = "", k: int = 4):
        self.search = search
        self.store_url = store_url.rstrip("/")
        self.k = k

    def recommend(self, text: str, state: dict[str, Any] | None = None) -> Recommendation:
        """Cards for `text`; with the `state` of the last list, a short follow-up refines that list."""
        previous = state or {}
        follow_up = self.follow_up_filters(text, previous)
        if follow_up is not None:
            filters, query = follow_up
            results = self.search.search(query, self.k, filters)
            refined = True
        else:
            results = self.search.recommend(text, self.k)
            refined = False
        cards = [self.card(hit.product, hit.reason) for hit in results.hits]
        new_state = {"query": results.query, "filters": _filters_to_dict(results.filters),
                     "shown": [c.id for c in cards], "prices": [c.price for c in cards]}
        if not cards:
            new_state = previous or new_state
        return Recommendation(cards, self._lead(results, refined), new_state, results, refined)

    def follow_up_filters(self, text: str, previous: dict[str, Any]) -> tuple[ProductFilters, str] | None:
        """The last list's filters changed by a short follow-up ("cheaper?", "in black?"), or None when `text` is
        not a follow-up of the list whose state is `previous`."""
        if not previous.get("query"):
            return None
        base = _filters_from_dict(previous.get("filters") or {})
        prices = previous.get("prices") or []
        if CHEAPER.search(text) and prices:  # cheaper than anything shown
            return replace(base, min_price=None, max_price=round(min(prices) - 0.01, 2)), previous["query"]
        if PRICIER.search(text) and prices:
            return replace(base, min_price=round(max(prices) + 0.01, 2), max_price=None), previous["query"]
        parsed, remaining = parse_product_query(text, self.search.vocabulary)
        rest = re.sub(r"\b(?:what about|how about|any|in|do you have|have you got|got|them|those|one|ones|it|"
                      r"instead|please|show me|maybe|and|or|also|the|a|an|from|by|size|sized)\b", " ", remaining.lower())
        if parsed.is_empty() or len(rest.split()) > FOLLOW_UP_WORDS or parsed.categories:
            return None
        return base.merged(parsed), previous["query"]

    def card(self, product: Product, reason: str = "") -> ProductCard:
        """The card a channel shows for `product`, with a one-line reason."""
        link = product.url or (f"{self.store_url}/products/{product.id}" if self.store_url else f"/products/{product.id}")
        return ProductCard(product.id, product.title, product.price, product.currency, product.image, link,
                           product.rating, reason or _default_reason(product))

    @staticmethod
    def _lead(results: ProductResults, refined: bool) -> str:
        described = results.filters.describe()
        unknown = ""
        if results.stock_unknown:  # never "in stock" for products whose stock the catalog does not give
            described = replace(results.filters, in_stock=None).describe()
            unknown = " I don't have stock information for these."
        if not results.hits:
            return (f"I couldn't find products matching that ({described})." if described
                    else "I couldn't find products matching that.")
        if results.mode == "similar" and results.anchor:
            return f"Here are products similar to the {results.anchor.title}" + (f" ({described})." if described else ".")
        if results.mode == "goes_with" and results.anchor:
            return f"These go well with the {results.anchor.title}" + (f" ({described})." if described else ".")
        prices = [h.product.price for h in results.hits]
        span = f"${min(prices):.2f}" if len(set(prices)) == 1 else f"${min(prices):.2f} to ${max(prices):.2f}"
        head = "Here are some other options" if refined else "Here are some options"
        return f"{head}" + (f" ({described})" if described else "") + f", from {span}." + unknown


def _default_reason(product: Any) -> str:
    bits = [f"rated {product.rating:g}/5" if product.rating is not None else "", product.subcategory or product.category]
    return ", ".join(b for b in bits if b)


def _filters_to_dict(filters: ProductFilters) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in filters.as_dict().items() if v not in (None, ())}


def _filters_from_dict(data: dict[str, Any]) -> ProductFilters:
    return ProductFilters(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})
