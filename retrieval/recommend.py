"""In-chat product recommendations: cards for a shopper's request, and follow-ups that refine the last list.

"waterproof jackets under $150" gives cards; then "cheaper?" keeps the request and lowers the price, "in black?"
adds a colour, "any from Kestrel?" a brand. The state of the last list is a plain dict, so the dialogue tracker
can keep it in a slot. Lives in `retrieval/` so the rasa-sdk actions can use it without importing `bot/`.

With a store's personal ranker and the shopper's interactions (what they looked at, put in their cart and bought,
with their consent), "what would you recommend for me?" and "something that goes with what I bought" answer from
that history, every other list is re-ranked by it, and each card's reason names the real interaction it follows
from ("you looked at the Tern Road Runner 3").

>>> recommender = Recommender(product_search, personal=ranker)
>>> first = recommender.recommend("waterproof jackets under $150")
>>> cheaper = recommender.recommend("cheaper?", first.state)
>>> mine = recommender.recommend("what would you recommend for me?", history=[Interaction("P1001")])
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from retrieval.compare import MAX_COMPARED, THEM, asks_to_compare, compare, named_products
from retrieval.documents import Product
from retrieval.filters import ProductFilters, parse_product_query
from retrieval.fusion import reciprocal_rank_fusion
from retrieval.honest import alternative_cards, honest_lead
from retrieval.money import money
from retrieval.products import ProductHit, ProductResults, ProductSearch
from retrieval.sequential.personal import Interaction, PersonalRanker

CHEAPER = re.compile(r"\b(?:cheaper|less expensive|lower price|more affordable|budget|on a budget|too expensive|"
                     r"too pricey|something cheap)\b", re.IGNORECASE)
PRICIER = re.compile(r"\b(?:pricier|more expensive|higher[- ]end|premium|better quality|top of the range)\b",
                     re.IGNORECASE)
FOLLOW_UP_WORDS = 4  # a message this short that only adds constraints refines the last list
FOR_ME = re.compile(r"\b(?:for me|recommend|recommendations?|suggest|suggestions?|what (?:should|would|could|can) i "
                    r"(?:get|buy|try)|i(?:'d| would) like|you think i|pick for me|surprise me|what else|anything else|"
                    r"ideas?)\b", re.IGNORECASE)
WITH_PURCHASES = re.compile(r"\b(?:what i (?:just )?(?:bought|ordered|got|purchased)|my (?:last |recent )?"
                            r"(?:order|purchases?)|i (?:just )?(?:bought|ordered|purchased))\b", re.IGNORECASE)
GENERIC_WORDS = re.compile(r"\b(?:what|would|could|can|should|you|do|does|i|me|my|for|recommend|recommendations?|"
                           r"suggest|suggestions?|something|anything|else|get|buy|try|like|think|pick|please|any|"
                           r"some|ideas?|goes|go|with|that|what|bought|ordered|got|purchased|purchases?|order|just|last|"
                           r"recent|surprise|the|a|an|to|and|or|is|are|be|here|now|next|good|best|great)\b",
                           re.IGNORECASE)
FOREIGN_MONEY = re.compile(r"[€£]|\b(?:euros?|eur|pounds?|gbp)\b", re.IGNORECASE)
DID = {"product_viewed": "you looked at the {}", "card_clicked": "you looked at the {}",
       "added_to_cart": "you put the {} in your cart", "purchased": "you bought the {}"}
RERANK_DEPTH = 3  # a personalised list re-ranks this many times `k` of the best matches for the request


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
    alternative: bool = False   # offered instead of a match (its reason says what it is); never passed off as one

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

    def __init__(self, search: ProductSearch, store_url: str = "", k: int = 4,
                 personal: PersonalRanker | None = None):
        self.search = search
        self.store_url = store_url.rstrip("/")
        self.k = k
        self.personal = personal

    def recommend(self, text: str, state: dict[str, Any] | None = None,
                  history: list[Interaction] | None = None) -> Recommendation:
        """Cards for `text`; with the `state` of the last list, a short follow-up refines that list. With the
        shopper's `history` (oldest first) and a personal ranker, lists are personalised."""
        previous = state or {}
        if asks_to_compare(text):
            compared = self._comparison(text, previous)
            if compared is not None:
                return compared
        history = [h for h in history or [] if self.search.kb.product(h.product_id) is not None]
        personal = self.personal if history else None
        follow_up = self.follow_up_filters(text, previous)
        depth = self.k * RERANK_DEPTH if personal else self.k
        if follow_up is not None:
            filters, query = follow_up
            results = self.search.search(query, depth, filters)
            refined = True
        elif personal is not None and self._is_personal_request(text):
            return self._personal(text, history, previous)
        else:
            results = self.search.recommend(text, depth)
            refined = False
        if personal is not None:
            results = self._reranked(results, history)
        cards = [self.card(hit.product, hit.reason) for hit in results.hits]
        if not cards and results.alternatives:
            cards = [replace(self.card(hit.product), reason=reason, alternative=True)
                     for hit, reason in alternative_cards(results)][: self.k]
        new_state = {"query": results.query, "filters": _filters_to_dict(results.filters),
                     "shown": [c.id for c in cards], "prices": [c.price for c in cards]}
        if not cards:
            new_state = previous or new_state
        lead = honest_lead(results, refined, self.search.terms.categories) or self._lead(results, refined)
        currency = cards[0].currency if cards else ""
        if currency and FOREIGN_MONEY.search(text) and not re.search(rf"\b{re.escape(currency)}\b", text, re.I):
            lead += f" Prices are in {currency}; I read your budget as {currency}."
        return Recommendation(cards, lead, new_state, results, refined)

    def _comparison(self, text: str, previous: dict[str, Any]) -> Recommendation | None:
        """"compare X and Y", "X vs Y", "compare them" (the last list's first two): the products side by side in
        words from their records, with their cards; None when the message names no product to compare."""
        kb = self.search.kb
        products = named_products(text, self.search.resolve, self.search.titles)
        shown = [p for i in previous.get("shown") or [] if (p := kb.product(i)) is not None]
        if len(products) < 2 and THEM.search(text) and len(shown) >= 2:
            count = MAX_COMPARED if re.search(r"(?:three|all)", text, re.I) else 2
            products = shown[:count]
        if not products:
            return None
        cards = [self.card(p, p.subcategory or p.category) for p in products]
        state = {"query": "", "filters": {}, "shown": [c.id for c in cards], "prices": [c.price for c in cards]}
        if len(products) == 1:
            return Recommendation(cards, f"Which product should I compare the {products[0].title} with? Tell me its "
                                  "name.", state, None, False, ["comparison"])
        return Recommendation(cards, compare(products), state, None, False, ["comparison"])

    def _is_personal_request(self, text: str) -> bool:
        """"what would you recommend for me?", "something that goes with what I bought": no kind of product named."""
        if not (FOR_ME.search(text) or WITH_PURCHASES.search(text)):
            return False
        parsed, remaining = parse_product_query(text, self.search.vocabulary)
        return not parsed.categories and not GENERIC_WORDS.sub(" ", re.sub(r"[^\w\s']", " ", remaining)).split()

    def _personal(self, text: str, history: list[Interaction], previous: dict[str, Any]) -> Recommendation:
        """Cards picked for this shopper alone: what their history leads to, or what goes with their purchases."""
        assert self.personal is not None
        kb = self.search.kb
        parsed, _ = parse_product_query(text, self.search.vocabulary)
        bought = [h for h in history if h.kind == "purchased"]
        owned = {h.product_id for h in bought}
        pool = [p for p in kb.products if parsed.matches(p) and p.id not in owned]
        lead = "Based on what you've looked at here, you might like these."
        if WITH_PURCHASES.search(text):
            if not bought:
                return Recommendation([], "I don't see anything you've bought here yet, so I can't match it. Tell me "
                                      "what you're looking for and I'll find it.", previous, None)
            partners = {g for h in bought if (p := kb.product(h.product_id)) is not None
                        for g in (kb.categories[p.category].goes_with if p.category in kb.categories else ())}
            bought_kinds = {kb.product(h.product_id).subcategory for h in bought}
            pool = [p for p in pool if p.category in partners or (not partners and p.subcategory not in bought_kinds)]
            history = bought
            lead = "These go with what you bought."
        suggestions = self.personal.recommend(history, self.k, candidates=[p.id for p in pool])
        cards = [self.card(kb.product(s.product_id), self._because(s.because) if s.because else "")
                 for s in suggestions]
        state = {"query": "", "filters": _filters_to_dict(parsed), "shown": [c.id for c in cards],
                 "prices": [c.price for c in cards], "personal": True}
        if not cards:
            return Recommendation([], "I couldn't find products for that. Tell me what you're looking for.",
                                  previous, None)
        return Recommendation(cards, lead, state, None, False, ["personal"])

    def _reranked(self, results: ProductResults, history: list[Interaction]) -> ProductResults:
        """The request's best matches ordered by how well they fit the shopper (the request's ranking and the
        shopper's fused), the top `k` kept; a card's reason adds the interaction it follows from, when there is one."""
        assert self.personal is not None
        by_id = {hit.product.id: hit for hit in results.hits}
        ids = list(by_id)
        fit = self.personal.scores(history, ids)
        by_fit = [ids[i] for i in np.argsort(-fit, kind="stable")]
        hits: list[ProductHit] = []
        for pid, _ in reciprocal_rank_fusion([ids, by_fit])[: self.k]:
            because = self.personal.because(pid, history)
            reason = "; ".join(r for r in (by_id[pid].reason, self._because(because)) if r) if because \
                else by_id[pid].reason
            hits.append(replace(by_id[pid], reason=reason))
        return replace(results, hits=hits)

    def _because(self, because: Interaction) -> str:
        """A card's reason from the shopper's own interaction: "you looked at the X"."""
        source = self.search.kb.product(because.product_id)
        return DID.get(because.kind, DID["product_viewed"]).format(source.title) if source else ""

    def follow_up_filters(self, text: str, previous: dict[str, Any]) -> tuple[ProductFilters, str] | None:
        """The last list's filters changed by a short follow-up ("cheaper?", "in black?"), or None when `text` is
        not a follow-up of the list whose state is `previous`."""
        if not previous.get("query"):
            return None
        base = _filters_from_dict(previous.get("filters") or {})
        prices = previous.get("prices") or []
        if asks_to_compare(text) and THEM.search(text) and len(previous.get("shown") or []) >= 2:
            return base, previous["query"]   # "compare the first two": about the last list (`_comparison`)
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
        return ProductCard(product.id, product.title, product.price, product.currency, product.image,
                           card_link(product, self.store_url),
                           product.rating, reason or _default_reason(product))

    @staticmethod
    def _lead(results: ProductResults, refined: bool) -> str:
        described = results.filters.describe(results.currency)
        unknown = ""
        if results.stock_unknown:  # never "in stock" for products whose stock the catalog does not give
            described = replace(results.filters, in_stock=None).describe(results.currency)
            unknown = " I don't have stock information for these."
        if not results.hits:
            return (f"I couldn't find products matching that ({described})." if described
                    else "I couldn't find products matching that.")
        if results.mode == "similar" and results.anchor:
            return f"Here are products similar to the {results.anchor.title}" + (f" ({described})." if described else ".")
        if results.mode == "goes_with" and results.anchor:
            return f"These go well with the {results.anchor.title}" + (f" ({described})." if described else ".")
        prices = [h.product.price for h in results.hits]
        cur = results.hits[0].product.currency   # the store's currency, never a hard-coded "$"
        span = money(min(prices), cur) if len(set(prices)) == 1 else \
            f"{money(min(prices), cur)} to {money(max(prices), cur)}"
        head = "Here are some other options" if refined else "Here are some options"
        return f"{head}" + (f" ({described})" if described else "") + f", from {span}." + unknown


def card_link(product: Product, store_url: str = "") -> str:
    """Where a card links: the catalog's absolute `url`; with `store_url`, the product's path on the store's site;
    without one, the bot's own storefront page (`/products/...`, `bot.web.pages`), which exists for every product."""
    url = product.url or ""
    if url.startswith(("http://", "https://")):
        return url
    if store_url:
        return store_url + (url if url.startswith("/") else f"/products/{product.id}")
    return url if url.startswith("/products/") else f"/products/{product.id}"


def _default_reason(product: Any) -> str:
    bits = [f"rated {product.rating:g}/5" if product.rating is not None else "", product.subcategory or product.category]
    return ", ".join(b for b in bits if b)


def _filters_to_dict(filters: ProductFilters) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in filters.as_dict().items() if v not in (None, ())}


def _filters_from_dict(data: dict[str, Any]) -> ProductFilters:
    return ProductFilters(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})
