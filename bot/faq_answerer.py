"""Answers a question with the best FAQ entry or policy section, or product cards when it asks for products.

This is the retrieval-only answerer the terminal chat uses until the dialogue engine exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.knowledge import StoreKnowledge
from retrieval.documents import SearchHit
from retrieval.products import ProductHit, ProductResults


@dataclass
class Answer:
    """What the bot says, and where it came from."""

    text: str
    sources: list[str] = field(default_factory=list)
    products: list[ProductHit] = field(default_factory=list)
    confident: bool = True
    hits: list[SearchHit] = field(default_factory=list)


class FaqAnswerer:
    """Best-passage answers over a store's FAQ and policies, with product search for shopping questions."""

    def __init__(self, store: StoreKnowledge, min_similarity: float = 0.45, k_products: int = 5):
        self.store = store
        self.min_similarity = min_similarity
        self.k_products = k_products

    def answer(self, text: str) -> Answer:
        hits = self.store.index.search(text, k=5)
        if not hits:
            return self._fallback(hits)
        best = hits[0]
        if best.kind == "product":
            results = self.store.products.recommend(text, k=self.k_products)
            if results.hits:
                return Answer(self._product_lead(results), [f"product:{h.product.id}" for h in results.hits],
                              results.hits, hits=hits)
            return Answer(f"I couldn't find products matching that ({results.filters.describe()}).", [], confident=False,
                          hits=hits)
        answer_hit = next((h for h in hits if h.kind in ("faq", "policy")), None)
        if answer_hit is None or (answer_hit.similarity or 0.0) < self.min_similarity:
            return self._fallback(hits)
        passage = answer_hit.passage
        return Answer(passage.text, [passage.id], hits=hits)

    @staticmethod
    def _product_lead(results: ProductResults) -> str:
        described = results.filters.describe()
        if results.mode == "similar" and results.anchor:
            return f"Products similar to the {results.anchor.title}" + (f" ({described}):" if described else ":")
        if results.mode == "goes_with" and results.anchor:
            return f"These go well with the {results.anchor.title}" + (f" ({described}):" if described else ":")
        return "Here are some products" + (f" ({described}):" if described else ":")

    def _fallback(self, hits: list[SearchHit]) -> Answer:
        name = self.store.kb.name
        return Answer(f"Sorry, I couldn't find that in {name}'s help pages. I can answer questions about shipping, "
                      "returns, refunds, payments, promo codes, accounts and our products.", [], confident=False, hits=hits)
