"""What a product's reviews say, counted: how many, the share positive, each aspect's mentions, the top pros and
cons each backed by a quoted sentence (with its review id), and where the reviews contradict the product page
("the page says waterproof; 4 of 23 reviewers report leaks").

Counts are of reviews, not sentences: a review that says "leaked" twice is one reviewer reporting leaks. Positive
and negative reviews are by their stars (4-5, 1-2); pros and cons by the sentence sentiment of the analysis.

>>> insights = ReviewInsights(kb, analysis)
>>> found = insights.for_product("P1001")
>>> found.total, found.positive, [c.text for c in found.contradictions]
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from retrieval.documents import Product
from retrieval.loaders import KnowledgeBase
from retrieval.reviews.analysis import ReviewAnalysis, ScoredSentence
from retrieval.reviews.aspects import ASPECTS

MIN_REPORTS = 2          # a finding contradicts the page only when at least this many reviewers report it
TOP = 2                  # pros and cons shown
ASPECT_WORDS = {"fit": "fit and sizing", "comfort": "comfort", "durability": "durability",
                "waterproofing": "waterproofing", "value": "value for money", "shipping": "shipping"}
_CLAIMS_WATERPROOF = re.compile(r"(?<!not )(?<!non-)\bwaterproof\b", re.IGNORECASE)
_CLAIMS_TRUE_TO_SIZE = re.compile(r"\btrue to size\b|\bfits true\b", re.IGNORECASE)
_TOPIC_WORDS = {"waterproof": re.compile(r"\b(?:waterproof\w*|water|rain\w*|wet|leak\w*|dry)\b", re.IGNORECASE),
                "fit": re.compile(r"\b(?:fit\w*|size\w*|sizing|small|large|big|tight|true to size)\b", re.IGNORECASE)}


@dataclass(frozen=True)
class Quote:
    """A review sentence that backs a pro or a con."""

    review_id: str
    text: str
    aspect: str
    sentiment: str


@dataclass(frozen=True)
class AspectCount:
    """How many reviews talk about an aspect, and how many of them praise it or complain about it."""

    aspect: str
    reviews: int
    positive: int
    negative: int


@dataclass(frozen=True)
class Contradiction:
    """A product-page claim the reviews dispute."""

    kind: str                  # "waterproof" or "fit"
    page: str                  # what the page says ("the page says waterproof", "the page gives no fit warning")
    finding: str               # what reviewers report ("report leaks", "say it runs small")
    reviewers: int
    total: int
    quote: Quote | None = None

    @property
    def text(self) -> str:
        return f"{self.page[0].upper()}{self.page[1:]}; {self.reviewers} of {self.total} reviewers {self.finding}."


@dataclass(frozen=True)
class ProductInsights:
    """A product's reviews, counted."""

    product_id: str
    title: str
    total: int
    average: float | None
    positive: int              # reviews rated 4 or 5
    negative: int              # reviews rated 1 or 2
    aspects: tuple[AspectCount, ...] = ()
    pros: tuple[Quote, ...] = ()
    cons: tuple[Quote, ...] = ()
    runs_small: int = 0
    runs_large: int = 0
    true_to_size: int = 0
    leaks: int = 0
    stayed_dry: int = 0
    page_waterproof: bool | None = None
    contradictions: tuple[Contradiction, ...] = ()
    sentences: tuple[ScoredSentence, ...] = field(default=(), repr=False)

    @property
    def neutral(self) -> int:
        return self.total - self.positive - self.negative

    @property
    def share_positive(self) -> float:
        return self.positive / self.total if self.total else 0.0

    def aspect(self, name: str) -> AspectCount:
        return next((a for a in self.aspects if a.aspect == name), AspectCount(name, 0, 0, 0))

    def quotable(self, limit: int = 8, aspect: str | None = None) -> list[ScoredSentence]:
        """Sentences the LM may summarise: those on `aspect` first (when given), then the pros' and cons', then
        others with an aspect; never a suspect one."""
        chosen = {(q.review_id, q.text) for q in self.pros + self.cons}
        safe = [s for s in self.sentences if not s.suspect]
        ranked = sorted(safe, key=lambda s: (aspect not in s.aspects if aspect else False,
                                             (s.review_id, s.text) not in chosen, not s.aspects))
        return [s for s in ranked if s.aspects or (s.review_id, s.text) in chosen][:limit]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("sentences")
        data["share_positive"] = round(self.share_positive, 4)
        data["contradictions"] = [{**asdict(c), "text": c.text} for c in self.contradictions]
        return data


class ReviewInsights:
    """Insights for any product of a store, from its scored review sentences."""

    def __init__(self, kb: KnowledgeBase, analysis: ReviewAnalysis):
        self.kb = kb
        self.analysis = analysis
        self._cache: dict[str, ProductInsights] = {}

    def for_product(self, product_id: str) -> ProductInsights | None:
        """The product's insights (zero reviews is an answer too); None for a product the catalog lacks."""
        product = self.kb.product(product_id)
        if product is None:
            return None
        if product_id not in self._cache:
            self._cache[product_id] = product_insights(product, [r.rating for r in self.kb.reviews_for(product_id)],
                                                       self.analysis.for_product(product_id))
        return self._cache[product_id]

    def note_for(self, product: Product, text: str) -> str | None:
        """The contradictions of the page that `text` (a question, or an answer) touches, as one sentence each."""
        found = self.for_product(product.id)
        if found is None:
            return None
        notes = [c.text for c in found.contradictions if _TOPIC_WORDS[c.kind].search(text)]
        return " ".join(notes) or None


def page_says_waterproof(product: Product) -> bool | None:
    """What the page claims: the `waterproof` attribute, else "waterproof" in its tags or description."""
    value = product.attributes.get("waterproof")
    if isinstance(value, bool):
        return value
    if "waterproof" in {t.lower() for t in product.tags} or _CLAIMS_WATERPROOF.search(product.description):
        return True
    return None


def product_insights(product: Product, ratings: list[int], sentences: list[ScoredSentence]) -> ProductInsights:
    """Count one product's reviews (`ratings`, one per review) and scored sentences."""
    total = len(ratings)
    by_review: dict[str, list[ScoredSentence]] = {}
    for sentence in sentences:
        by_review.setdefault(sentence.review_id, []).append(sentence)

    def reviews_with(test: Any) -> int:
        return sum(any(test(s) for s in group) for group in by_review.values())

    aspects = tuple(AspectCount(a, reviews_with(lambda s, a=a: a in s.aspects),
                                reviews_with(lambda s, a=a: a in s.aspects and s.sentiment == "positive"),
                                reviews_with(lambda s, a=a: a in s.aspects and s.sentiment == "negative"))
                    for a in ASPECTS)
    aspects = tuple(a for a in aspects if a.reviews)
    pros = _top(aspects, sentences, "positive")
    cons = _top(aspects, sentences, "negative")
    counts = {claim: reviews_with(lambda s, c=claim: c in s.claims)
              for claim in ("leak", "runs_small", "runs_large", "true_to_size")}
    dry = reviews_with(lambda s: "waterproofing" in s.aspects and s.sentiment == "positive" and "leak" not in s.claims)
    waterproof = page_says_waterproof(product)
    contradictions: list[Contradiction] = []
    if waterproof and counts["leak"] >= MIN_REPORTS:
        contradictions.append(Contradiction("waterproof", "the page says waterproof", "report leaks", counts["leak"], total,
                                            _quote(sentences, lambda s: "leak" in s.claims, "waterproofing")))
    sized = bool(product.sizes)
    page_fit = "the page says true to size" if _CLAIMS_TRUE_TO_SIZE.search(product.description) else \
        "the page gives no fit warning"
    for claim, finding in (("runs_small", "say it runs small"), ("runs_large", "say it runs large")):
        if sized and counts[claim] >= MIN_REPORTS and counts[claim] > counts["true_to_size"] / 2:
            contradictions.append(Contradiction("fit", page_fit, finding, counts[claim], total,
                                                _quote(sentences, lambda s, c=claim: c in s.claims, "fit")))
    average = round(sum(ratings) / total, 1) if total else None
    return ProductInsights(product.id, product.title, total, average, sum(r >= 4 for r in ratings),
                           sum(r <= 2 for r in ratings), aspects, pros, cons, counts["runs_small"],
                           counts["runs_large"], counts["true_to_size"], counts["leak"], dry, waterproof,
                           tuple(contradictions), tuple(sentences))


def _top(aspects: tuple[AspectCount, ...], sentences: list[ScoredSentence], sentiment: str) -> tuple[Quote, ...]:
    """The aspects most reviews praise (or complain about), each with its most confident sentence."""
    ranked = sorted((a for a in aspects if (a.positive if sentiment == "positive" else a.negative)),
                    key=lambda a: (-(a.positive if sentiment == "positive" else a.negative), ASPECTS.index(a.aspect)))
    quotes = []
    for count in ranked[:TOP]:
        quote = _quote(sentences, lambda s, a=count.aspect: a in s.aspects and s.sentiment == sentiment, count.aspect)
        if quote is not None:
            quotes.append(quote)
    return tuple(quotes)


def _quote(sentences: list[ScoredSentence], test: Any, aspect: str) -> Quote | None:
    """The most confident matching sentence that is safe to quote (earliest review id on a tie)."""
    fitting = [s for s in sentences if test(s) and not s.suspect]
    if not fitting:
        return None
    best = min(fitting, key=lambda s: (-s.confidence, s.review_id, s.position))
    return Quote(best.review_id, best.text, aspect, best.sentiment)
