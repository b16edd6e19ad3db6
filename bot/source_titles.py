"""Readable titles for the source ids a reply cites, for shoppers: `faq:how-to-start-return` is
"Returns: How do I start a return?", `policy:returns#return-window` is "Returns, Refunds and Exchanges: Return
window", `product:P1001` is the product's title. Programs keep the ids (`sources`); channels show these
(`source_titles`, in the same order)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from retrieval.loaders import KnowledgeBase

KINDS = {"faq": "FAQ", "policy": "Policy", "product": "Product", "reviews": "Reviews", "review": "Review"}


def humanize(text: str) -> str:
    """`returns_exchanges` -> "Returns exchanges": separators to spaces, the first letter capitalised."""
    words = re.sub(r"[-_#/.:]+", " ", text).strip()
    return words[:1].upper() + words[1:]


class SourceTitles:
    """Titles for one store's source ids; an id the store does not know still gets a readable title, never the
    raw id with its kind prefix."""

    def __init__(self, kb: KnowledgeBase):
        self.titles: dict[str, str] = {}
        for entry in kb.faq:
            topic = humanize(entry.topic) if entry.topic else ""
            self.titles[f"faq:{entry.id}"] = f"{topic}: {entry.question}" if topic else entry.question
        for section in kb.policies:
            self.titles[f"policy:{section.id}"] = f"{section.document}: {section.heading}"
        self.products = {p.id: p.title for p in kb.products}
        for product_id, title in self.products.items():
            self.titles[f"product:{product_id}"] = title
            self.titles[f"reviews:{product_id}"] = f"Shopper reviews of the {title}"
        for review in kb.reviews:
            title = self.products.get(review.product_id)
            self.titles[f"review:{review.review_id}"] = f"A shopper review of the {title}" if title else "A shopper review"

    def title(self, source_id: str) -> str:
        """The shopper-facing title of one source id."""
        known = self.titles.get(source_id)
        if known is not None:
            return known
        kind, _, rest = source_id.partition(":")
        if not rest:
            return humanize(kind)
        if kind == "order":
            return f"Order {rest}"
        return f"{KINDS.get(kind, humanize(kind))}: {humanize(rest)}"

    def __call__(self, source_ids: Iterable[str]) -> list[str]:
        """The titles of `source_ids`, in their order."""
        return [self.title(s) for s in source_ids]
