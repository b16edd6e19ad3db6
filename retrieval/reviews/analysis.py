"""Every review sentence scored once, at index time: its aspects, its claims and its sentiment, cached by the
reviews' fingerprint (and the scorer's) like the other indexes.

Sentiment comes from a scorer (the NLU's sentiment head: `NluParser.sentiment_probabilities`, passed in, so this
package imports no bot code); without one, each sentence takes its review's stars (4-5 positive, 3 neutral, 1-2
negative). A claim decides the sentence's polarity whatever the scorer says: a leak or "runs small" is a complaint,
"true to size" praise.

>>> analysis = load_or_analyse(kb.reviews, cache_dir / "reviews", parser.sentiment_probabilities, "nlu:abc123")
>>> [s.text for s in analysis.for_product("P1001") if "fit" in s.aspects]
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path

from retrieval.loaders.reviews import Review
from retrieval.reviews.aspects import LEXICON_VERSION, claims_in, is_instruction, tag_aspects

SentimentScorer = Callable[[list[str]], list[dict[str, float]]]
STARS = "stars"
BATCH = 64
NEGATIVE_CLAIMS = frozenset({"leak", "runs_small", "runs_large"})
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")
log = logging.getLogger("shopbot.reviews")


@dataclass(frozen=True)
class ScoredSentence:
    """One sentence of one review, as the insights count it."""

    review_id: str
    product_id: str
    position: int                 # the sentence's place in its review, from 0
    text: str
    rating: int                   # the review's stars
    aspects: tuple[str, ...]
    claims: tuple[str, ...]
    sentiment: str                # positive, neutral or negative
    confidence: float             # the scorer's probability of that label (1.0 for stars and claims)
    suspect: bool = False         # reads as an instruction to an assistant: never quoted, never given to the LM


@dataclass
class ReviewAnalysis:
    """The scored sentences of a store's reviews, and what scored them."""

    fingerprint: str              # of the reviews and the lexicon (not the scorer)
    scorer: str                   # "stars", or the sentiment model's id ("nlu:...")
    sentences: list[ScoredSentence] = field(default_factory=list)

    def for_product(self, product_id: str) -> list[ScoredSentence]:
        return list(self._by_product.get(product_id, ()))

    @cached_property
    def _by_product(self) -> dict[str, list[ScoredSentence]]:
        grouped: dict[str, list[ScoredSentence]] = {}
        for sentence in self.sentences:
            grouped.setdefault(sentence.product_id, []).append(sentence)
        return grouped


def split_review(text: str) -> list[str]:
    """A review's sentences."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def reviews_fingerprint(reviews: Sequence[Review]) -> str:
    """Changes when any review (or the lexicon) does."""
    digest = hashlib.sha256(f"lexicon {LEXICON_VERSION}\n".encode())
    for review in reviews:
        digest.update(json.dumps([review.review_id, review.product_id, review.rating, review.text]).encode())
        digest.update(b"\n")
    return digest.hexdigest()[:20]


def star_sentiment(rating: int) -> str:
    return "positive" if rating >= 4 else "negative" if rating <= 2 else "neutral"


def analyse_reviews(reviews: Sequence[Review], scorer: SentimentScorer | None = None,
                    scorer_id: str = STARS) -> ReviewAnalysis:
    """Tag and score every sentence of every review (`scorer`: texts -> label probabilities; None: the stars)."""
    parts = [(review, i, sentence) for review in reviews for i, sentence in enumerate(split_review(review.text))]
    scores: list[dict[str, float]] = []
    if scorer is not None:
        texts = [sentence for _, _, sentence in parts]
        for start in range(0, len(texts), BATCH):
            scores += scorer(texts[start:start + BATCH])
    out: list[ScoredSentence] = []
    for k, (review, position, sentence) in enumerate(parts):
        claims = claims_in(sentence)
        if claims & NEGATIVE_CLAIMS:
            label, confidence = "negative", 1.0
        elif "true_to_size" in claims:
            label, confidence = "positive", 1.0
        elif scorer is not None:
            probabilities = scores[k]
            label = max(probabilities, key=probabilities.__getitem__)
            confidence = float(probabilities[label])
        else:
            label, confidence = star_sentiment(review.rating), 1.0
        out.append(ScoredSentence(review.review_id, review.product_id, position, sentence, review.rating,
                                  tag_aspects(sentence), tuple(sorted(claims)), label, round(confidence, 4),
                                  is_instruction(sentence)))
    return ReviewAnalysis(reviews_fingerprint(reviews), scorer_id if scorer is not None else STARS, out)


def _cache_file(folder: Path, scorer_id: str) -> Path:
    slug = re.sub(r"[^a-zA-Z0-9]+", "-", scorer_id).strip("-") or STARS
    return Path(folder) / f"analysis-{slug}.json"


def load_or_analyse(reviews: Sequence[Review], folder: Path, scorer: SentimentScorer | None = None,
                    scorer_id: str = STARS) -> ReviewAnalysis:
    """The cached analysis in `folder` when it was made from these reviews by this scorer, else a new one (saved
    there). A damaged cache file is analysed again."""
    scorer_id = scorer_id if scorer is not None else STARS
    wanted = reviews_fingerprint(reviews)
    path = _cache_file(folder, scorer_id)
    cached = _read(path)
    if cached is not None and cached.fingerprint == wanted and cached.scorer == scorer_id:
        return cached
    log.info("Scoring %d reviews' sentences (%s; once per reviews version) ...", len(reviews), scorer_id)
    analysis = analyse_reviews(reviews, scorer, scorer_id)
    _write(path, analysis)
    return analysis


def cached_analysis(reviews: Sequence[Review], folder: Path) -> ReviewAnalysis | None:
    """Any analysis in `folder` made from these reviews, a model-scored one before the star-scored one (an action
    server finds what the bot scored with its NLU)."""
    wanted = reviews_fingerprint(reviews)
    found = [a for a in (_read(p) for p in sorted(Path(folder).glob("analysis-*.json"))) if a is not None]
    found = [a for a in found if a.fingerprint == wanted]
    return next((a for a in found if a.scorer != STARS), next(iter(found), None))


def _read(path: Path) -> ReviewAnalysis | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        sentences = [ScoredSentence(**{**row, "aspects": tuple(row["aspects"]), "claims": tuple(row["claims"])})
                     for row in data["sentences"]]
        return ReviewAnalysis(str(data["fingerprint"]), str(data["scorer"]), sentences)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write(path: Path, analysis: ReviewAnalysis) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    staging.write_text(json.dumps({"fingerprint": analysis.fingerprint, "scorer": analysis.scorer,
                                   "sentences": [asdict(s) for s in analysis.sentences]}), encoding="utf-8")
    os.replace(staging, path)   # readers see the old file or the whole new one
