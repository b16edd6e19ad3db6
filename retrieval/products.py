"""Product search with structured filters, and recommendations ("similar to X", "goes with X").

>>> search = ProductSearch(kb, index)
>>> [hit.product.title for hit in search.search("waterproof hiking boots under $150", k=3)]
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
from rapidfuzz import fuzz, process

from retrieval.documents import Product
from retrieval.filters import CatalogVocabulary, ProductFilters, parse_product_query
from retrieval.fusion import reciprocal_rank_fusion
from retrieval.index import KnowledgeIndex
from retrieval.keyword_index import top_rows
from retrieval.loaders.store import KnowledgeBase
from retrieval.matching import NO_MATCH_SIMILARITY, CatalogTerms, Request
from retrieval.text import keyword_tokens as keyword_stems

RecommendationMode = Literal["search", "similar", "goes_with"]
# what a search found: products that fit; a kind the store does not carry; the kind, but not within the filters;
# the kind, but none with a required feature
Outcome = Literal["match", "no_kind", "none_with_filters", "no_feature"]
SIBLING_SIMILARITY = 0.55   # subcategories of one category this close in meaning are offered for each other
SIMILAR_PATTERN = re.compile(r"\b(?:similar to|something like|like the|alternatives? to|instead of|same as|like my)\s+(.+)", re.I)
GOES_WITH_PATTERN = re.compile(r"\b(?:goes? with|go with|match(?:es)?|pair(?:s)? with|to wear with|complements?|"
                        r"accessories for|to use with|works? with|for my)\s+(.+)", re.I)


@dataclass(frozen=True)
class ProductHit:
    """A product, its ranking score, and a one-line reason it was picked."""

    product: Product
    score: float
    reason: str = ""


@dataclass(frozen=True)
class Alternatives:
    """Products offered instead of a match, and what they are: `nearest_price` (the kind asked for, outside the
    price asked for), `other_kind` (within the filters, another kind), `without_feature` (the kind, lacking a
    required feature)."""

    kind: Literal["nearest_price", "other_kind", "without_feature", "relaxed"]
    hits: list[ProductHit]


@dataclass(frozen=True)
class ProductResults:
    """Ranked products plus what the search understood (filters, anchor product, mode)."""

    hits: list[ProductHit]
    filters: ProductFilters
    query: str
    mode: RecommendationMode = "search"
    anchor: Product | None = None
    stock_unknown: bool = False    # "in stock" was asked, but the catalog does not say for these products
    request: Request | None = None  # the kind, features and order the request names (searches only)
    outcome: Outcome = "match"
    alternatives: tuple[Alternatives, ...] = ()   # offered, labelled, when nothing fits (`outcome` not "match")
    currency: str = "USD"   # the store's: how a lead writes the filters' prices


class ProductSearch:
    """Ranks catalog products by meaning and keywords, after applying hard filters."""

    def __init__(self, kb: KnowledgeBase, index: KnowledgeIndex):
        self.kb = kb
        self.index = index
        self.vocabulary = CatalogVocabulary.from_products(kb.products)
        start, end = index.kind_range("product")
        self._numbers = np.arange(start, end)
        self._products = [kb.product(index.passages[n].source_id) for n in self._numbers]
        if any(p is None for p in self._products):
            raise ValueError("the index does not match the catalog; rebuild it")
        self._vectors: np.ndarray | None = None
        self._titles = {p.title.lower(): p for p in self._products}
        self.terms = CatalogTerms.from_products(self._products)
        self._subcategory_vectors: dict[str, np.ndarray] | None = None

    @property
    def vectors(self) -> np.ndarray:
        """One embedding per product (row order of the index)."""
        if self._vectors is None:
            self._vectors = self.index.passage_vectors(self._numbers)
        return self._vectors

    def search(self, text: str, k: int = 5, filters: ProductFilters | None = None) -> ProductResults:
        """Products for a shopper's request; filters found in the text are merged with `filters`."""
        parsed, remaining = parse_product_query(text, self.vocabulary)
        active = (filters or ProductFilters()).merged(parsed)
        query = remaining or text
        request = self.terms.read(query, active.categories, text)
        candidates, stock_unknown = self._candidates(active)
        if self._carries_nothing_like(request, active):
            return ProductResults([], active, query, stock_unknown=stock_unknown, request=request, outcome="no_kind",
                                  currency=self.kb.currency)
        fitting = [i for i in candidates if request.fits(self._products[i])]
        if fitting or not candidates and not request.names_a_kind and not request.features:
            hits = self._ordered(query, fitting, k, request)
            return ProductResults([ProductHit(self._products[i], s, self._reason(self._products[i], active))
                                   for i, s in hits], active, query, stock_unknown=stock_unknown, request=request,
                                  currency=self.kb.currency)
        return self._nearest(query, active, request, candidates, k, stock_unknown)

    def _carries_nothing_like(self, request: Request, active: ProductFilters) -> bool:
        """A request that names no kind, feature or category the catalog has, whose words are far in meaning from
        every product ("cheapest HDMI cable" in an outdoor store)."""
        if request.names_a_kind or request.features or active.categories or not request.content:
            return False
        vector = self.index.embedder.encode_query(request.phrase)
        return float(np.max(self.vectors @ vector)) < NO_MATCH_SIMILARITY

    def _ordered(self, query: str, rows: list[int], k: int, request: Request) -> list[tuple[int, float]]:
        """The best `k` rows for the query; "cheapest", "best rated" or "lightest" orders all of them first."""
        if request.order is None or not rows:
            return self._rank(query, rows, k)
        ranked = self._rank(query, rows, len(rows))
        key = {"price_asc": lambda p: p.price, "price_desc": lambda p: -p.price,
               "rating": lambda p: -(p.rating or 0.0),
               "lightest": lambda p: float(p.attributes.get("weight_g") or float("inf"))}[request.order]
        return sorted(ranked, key=lambda pair: key(self._products[pair[0]]))[:k]

    def _nearest(self, query: str, active: ProductFilters, request: Request, candidates: list[int], k: int,
                 stock_unknown: bool) -> ProductResults:
        """Nothing fits: the nearest real products, each group labelled by what it is instead of a match."""
        kind_rows = [i for i, p in enumerate(self._products) if request.fits_kind(p) and
                     (not active.categories or p.category.lower() in {c.lower() for c in active.categories})]
        fitting_anywhere = [i for i in kind_rows if request.has_features(self._products[i])]
        groups: list[Alternatives] = []
        outcome: Outcome = "none_with_filters"
        if fitting_anywhere:
            unpriced = replace(active, min_price=None, max_price=None)
            priced = active.min_price is not None or active.max_price is not None
            nearest = [i for i in fitting_anywhere if unpriced.matches(self._products[i])] if priced else []
            if nearest:
                target = active.max_price if active.max_price is not None else active.min_price
                nearest.sort(key=lambda i: (abs(self._products[i].price - float(target or 0)), i))
                groups.append(Alternatives("nearest_price", [self._hit(i, active) for i in nearest[:2]]))
            elif not priced or not nearest:
                relaxed = [i for i in fitting_anywhere]
                groups.append(Alternatives("relaxed", [self._hit(i, active) for i, _ in
                                                       self._ordered(query, relaxed, 2, request)]))
        else:
            outcome = "no_feature"
            without = [i for i in candidates if request.fits_kind(self._products[i])]
            if without:
                groups.append(Alternatives("without_feature", [self._hit(i, active) for i, _ in
                                                               self._rank(query, without, 2)]))
        wanted = {self._products[i].subcategory for i in kind_rows}
        siblings = self._siblings(wanted)
        others = [i for i in self._candidates(replace(active, categories=()))[0]
                  if self._products[i].subcategory in siblings and request.has_features(self._products[i])
                  and not request.fits_kind(self._products[i])]
        room = max(k - sum(len(g.hits) for g in groups), 2)
        if others:
            groups.append(Alternatives("other_kind", [self._hit(i, active) for i, _ in self._rank(query, others, room)]))
        return ProductResults([], active, query, stock_unknown=stock_unknown, request=request, outcome=outcome,
                              alternatives=tuple(groups), currency=self.kb.currency)

    def _hit(self, row: int, active: ProductFilters) -> ProductHit:
        return ProductHit(self._products[row], 0.0, self._reason(self._products[row], active))

    def _siblings(self, wanted: set[str]) -> set[str]:
        """Subcategories a shopper may take instead of `wanted`: the same head noun ("road running shoes" for
        "trail running shoes"), or one of the same category close in meaning ("wireless earbuds" for
        "headphones"); never `wanted` itself."""
        if self._subcategory_vectors is None:
            names = sorted({p.subcategory for p in self._products if p.subcategory})
            self._subcategory_vectors = {n: self.index.embedder.encode_query(n) for n in names}
        category = {p.subcategory: p.category for p in self._products}
        heads = {(keyword_stems(w) or [""])[-1] for w in wanted}
        out = set()
        for name, vector in self._subcategory_vectors.items():
            if name in wanted:
                continue
            if (keyword_stems(name) or [""])[-1] in heads:
                out.add(name)
            elif any(category.get(w) == category.get(name) and
                     float(vector @ self._subcategory_vectors[w]) >= SIBLING_SIMILARITY
                     for w in wanted if w in self._subcategory_vectors):
                out.add(name)
        return out

    def recommend(self, text: str, k: int = 5, filters: ProductFilters | None = None) -> ProductResults:
        """Understands "similar to X" and "goes with X"; anything else is a filtered search."""
        for pattern, mode in ((SIMILAR_PATTERN, "similar"), (GOES_WITH_PATTERN, "goes_with")):
            match = pattern.search(text)
            anchor = self.resolve(match.group(1)) if match else None
            if anchor is not None:
                parsed, _ = parse_product_query(text[: match.start()], self.vocabulary)
                active = (filters or ProductFilters()).merged(parsed)
                return self.similar(anchor, k, active) if mode == "similar" else self.goes_with(anchor, k, active)
        return self.search(text, k, filters)

    def similar(self, anchor: Product, k: int = 5, filters: ProductFilters | None = None) -> ProductResults:
        """Nearest products to `anchor` in the same category, the anchor itself excluded."""
        active = (filters or ProductFilters()).merged(ProductFilters(exclude_ids=(anchor.id,)))
        candidates, stock_unknown = self._candidates(active, lambda p: p.category == anchor.category)
        hits = self._neighbours(anchor, candidates, k)
        return ProductResults([ProductHit(self._products[i], s, f"similar to {anchor.title}") for i, s in hits],
                              active, anchor.title, "similar", anchor, stock_unknown, currency=self.kb.currency)

    def goes_with(self, anchor: Product, k: int = 5, filters: ProductFilters | None = None) -> ProductResults:
        """Products from the categories that complement the anchor's, closest in use first, one per category in turn."""
        active = (filters or ProductFilters()).merged(ProductFilters(exclude_ids=(anchor.id,)))
        category = self.kb.categories.get(anchor.category)
        partners = set(category.goes_with) if category else set()
        candidates, stock_unknown = self._candidates(active, lambda p: p.category in partners)
        ranked = self._neighbours(anchor, candidates, len(candidates), tag_bonus=0.05)
        by_category: dict[str, list[tuple[int, float]]] = {}
        for i, score in ranked:
            by_category.setdefault(self._products[i].category, []).append((i, score))
        interleaved: list[tuple[int, float]] = []
        while len(interleaved) < k and any(by_category.values()):
            for queue in by_category.values():
                if queue and len(interleaved) < k:
                    interleaved.append(queue.pop(0))
        return ProductResults([ProductHit(self._products[i], s, f"goes with {anchor.title}") for i, s in interleaved],
                              active, anchor.title, "goes_with", anchor, stock_unknown, currency=self.kb.currency)

    @property
    def titles(self) -> dict[str, Product]:
        """Every product by its lower-case title."""
        return self._titles

    def resolve(self, name: str) -> Product | None:
        """The product a shopper names: an id, an exact title, or a close (typo-tolerant) title."""
        name = name.strip(" ?.!,'\"").lower()
        name = re.sub(r"^(?:the|a|an|my)\s+", "", name)
        by_id = self.kb.product(name.upper())
        if by_id is not None:
            return by_id
        if name in self._titles:
            return self._titles[name]
        match = process.extractOne(name, list(self._titles), scorer=fuzz.token_set_ratio, score_cutoff=85)
        return self._titles[match[0]] if match else None

    def _candidates(self, active: ProductFilters, also: Callable[[Product], bool] = lambda p: True
                    ) -> tuple[list[int], bool]:
        """Rows matching the filters (and `also`); when "in stock" leaves none because the catalog gives no stock
        for the others, those products instead, flagged (True) so nobody calls them in stock."""
        candidates = [i for i, p in enumerate(self._products) if active.matches(p) and also(p)]
        if candidates or not active.in_stock:
            return candidates, False
        relaxed = replace(active, in_stock=None)
        unknown = [i for i, p in enumerate(self._products) if p.stock is None and relaxed.matches(p) and also(p)]
        return unknown, bool(unknown)

    def _rank(self, query: str, candidates: list[int], k: int) -> list[tuple[int, float]]:
        if not candidates:
            return []
        rows = np.asarray(candidates)
        dense_scores = self.vectors[rows] @ self.index.embedder.encode_query(query)
        dense_order = rows[np.argsort(-dense_scores, kind="stable")]
        keyword_scores = self.index.keyword.scores(query)[self._numbers]
        keyword_order = top_rows(keyword_scores, len(rows), rows)
        depth = max(self.index.config.candidates, k)
        fused = reciprocal_rank_fusion([list(dense_order[:depth]), [int(r) for r in keyword_order[:depth]]],
                                       k=self.index.config.rrf_k)
        return [(int(i), s) for i, s in fused[:k]]

    def _neighbours(self, anchor: Product, candidates: list[int], k: int, tag_bonus: float = 0.0) -> list[tuple[int, float]]:
        """Candidates by cosine similarity to the anchor, plus `tag_bonus` per shared tag (shared use: "running")."""
        if not candidates:
            return []
        position = self._products.index(anchor)
        rows = np.asarray(candidates)
        scores = self.vectors[rows] @ self.vectors[position]
        if tag_bonus:
            tags = set(anchor.tags)
            scores = scores + tag_bonus * np.array([len(tags & set(self._products[r].tags)) for r in rows])
        order = np.argsort(-scores, kind="stable")[:k]
        return [(int(rows[o]), float(scores[o])) for o in order]

    @staticmethod
    def _reason(product: Product, filters: ProductFilters) -> str:
        bits = []
        if filters.max_price is not None or filters.min_price is not None:
            bits.append("in your price range")   # the card shows the price itself
        if filters.colors:
            bits.append("comes in " + "/".join(c for c in product.colors if c in filters.colors))
        if product.rating:
            bits.append(f"rated {product.rating:.1f}/5")
        if product.out_of_stock:
            bits.append("out of stock")
        return ", ".join(bits) or product.subcategory or product.category
