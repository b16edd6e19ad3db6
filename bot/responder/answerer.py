"""Answer a shopper's question from the store's knowledge: retrieve, then write a grounded, cited reply.

Retrieval picks FAQ entries, policy sections and products; below `min_similarity` the bot says it is not sure rather
than stretch a weak match. Action results (order facts) join the sources when the dialogue layer has them.

>>> answerer = Answerer(store.index, responder, store.kb.name)
>>> stream = answerer.answer("how long do refunds take?")
>>> async for chunk in stream: print(chunk, end="")
"""

from __future__ import annotations

from collections.abc import Callable

from bot.responder.product_answer import product_answer
from bot.responder.prompt import ReplyRequest, Source, product_source
from bot.responder.responder import ReplyStream, Responder, fixed_reply
from retrieval.documents import Product, SearchHit
from retrieval.index import KnowledgeIndex

NOT_SURE = ("I'm not sure about that one, and I'd rather not guess. I can help with orders, shipping, returns, "
            "refunds, payments and our products, or connect you with a person.")


def hit_source(hit: SearchHit) -> Source:
    """A retrieved passage as a prompt source (FAQ: question and answer; policy: document, heading and text)."""
    return Source(hit.passage.id, hit.passage.title, hit.passage.text)


class Answerer:
    """Retrieval plus the responder, for informational questions."""

    def __init__(self, index: KnowledgeIndex, responder: Responder, store_name: str = "the store", k_sources: int = 3,
                 min_similarity: float = 0.35, catalog: Callable[[str], Product | None] | None = None,
                 history_messages: int = 2):
        """`catalog` looks a product up by id, so product hits carry every attribute (waterproof, weight, ...);
        `history_messages` is how many earlier chat messages callers give `answer` (the last exchange, for
        follow-ups)."""
        self.index = index
        self.catalog = catalog
        self.responder = responder
        self.store_name = store_name
        self.k_sources = k_sources
        self.min_similarity = min_similarity
        self.history_messages = history_messages

    def search(self, question: str) -> list[SearchHit]:
        """The passages this answerer would draw on, best first (callers that route on them pass them back)."""
        return self.index.search(question, k=self.k_sources)

    async def search_async(self, question: str) -> list[SearchHit]:
        """`search` without blocking the event loop."""
        return await self.index.search_async(question, k=self.k_sources)

    def sources_for(self, question: str, hits: list[SearchHit] | None = None) -> list[Source]:
        """The FAQ entries, policy sections and products worth showing the model, best first (none when all are
        weak): "is the Tern Road Runner 3 waterproof?" is answered from the product's own record."""
        hits = self.search(question) if hits is None else hits
        return [self._source(h) for h in hits] if self.knows(hits) else []

    def knows(self, hits: list[SearchHit]) -> bool:
        """Whether the best passage is close enough to the question to answer from."""
        return bool(hits) and (hits[0].similarity or 0.0) >= self.min_similarity

    def _source(self, hit: SearchHit) -> Source:
        product = self.catalog(hit.passage.source_id) if self.catalog is not None and hit.kind == "product" else None
        return product_source(product) if product is not None else hit_source(hit)

    def answer(self, question: str, history: list[tuple[str, str]] | None = None,
               extra_sources: list[Source] | None = None, hits: list[SearchHit] | None = None,
               fallback: str | None = None) -> ReplyStream:
        """Stream a grounded reply; `reply` on the stream carries the cited source ids once it is done.

        `hits` are the results of `search(question)` when the caller already has them (no second search);
        `fallback` is said instead of the best source's own words when the responder quotes (or no generated
        sentence passes the guard): a product's readable answer (`bot.responder.product_answer`).
        """
        extra = extra_sources or []
        sources = extra + [s for s in self.sources_for(question, hits) if s.id not in {e.id for e in extra}]
        if not sources:
            return fixed_reply(NOT_SURE)
        best = self.catalog(sources[0].id.split(":", 1)[1]) \
            if fallback is None and self.catalog is not None and sources[0].id.startswith("product:") else None
        if best is not None:   # a product is the best source: its readable answer, never its fields quoted
            fallback = product_answer(question, best)
        return self.responder.stream(ReplyRequest(question, sources, history or [], self.store_name,
                                                  fallback=fallback))
