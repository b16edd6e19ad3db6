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

RecommendationMode = Literal["search", "similar", "goes_with"]
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
class ProductResults:
    """Ranked products plus what the search understood (filters, anchor product, mode)."""

    hits: list[ProductHit]
    filters: ProductFilters
    query: str
    mode: RecommendationMode = "search"
    anchor: Product | None = None
    stock_unknown: bool = False    # "in stock" was asked, but the catalog does not say for these products


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
        candidates, stock_unknown = self._candidates(active)
        hits = self._rank(query, candidates, k)
        return ProductResults([ProductHit(self._products[i], s, self._reason(self._products[i], active)) for i, s in hits],
                              active, query, stock_unknown=stock_unknown)

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
                              active, anchor.title, "similar", anchor, stock_unknown)

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
                              active, anchor.title, "goes_with", anchor, stock_unknown)

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
            bits.append(f"${product.price:.2f}")
        if filters.colors:
            bits.append("comes in " + "/".join(c for c in product.colors if c in filters.colors))
        if product.rating:
            bits.append(f"rated {product.rating:.1f}/5")
        if product.out_of_stock:
            bits.append("out of stock")
        return ", ".join(bits) or product.subcategory or product.category
