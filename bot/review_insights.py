"""A store's review insights for the bot: the sentences scored by the NLU's sentiment head (once per reviews and
model version, cached in `cache_dir/reviews/<store>`), and the product page's disputed claims for product answers.

Both are made on first use (`warm_up` makes them at start-up), so a bot that is never asked about reviews does not
score them. The claims come from the lexicon alone (a leak report is a complaint whatever the sentiment head says),
so product answers use a star-scored analysis that needs no model.
"""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

from bot.nlu.parser import NluParser
from retrieval.documents import Product
from retrieval.loaders import KnowledgeBase
from retrieval.reviews.analysis import analyse_reviews, load_or_analyse
from retrieval.reviews.insights import ReviewInsights
from retrieval.store import StoreSearchSettings, index_folder


def review_folder(settings: StoreSearchSettings, kb: KnowledgeBase) -> Path:
    """Where a store's scored reviews are cached (an action server with the same settings finds them)."""
    return settings.cache_dir / "reviews" / index_folder(settings, kb).name


def sentiment_model_id(parser: NluParser) -> str:
    """Names the sentiment model in the cache key: a retrained NLU scores the reviews again."""
    digest = hashlib.sha1(json.dumps(parser.metadata, sort_keys=True, default=str).encode()).hexdigest()[:12]
    return f"nlu-{digest}"


class StoreReviews:
    """The review insights of one store, made when first needed."""

    def __init__(self, kb: KnowledgeBase, folder: Path, parser: NluParser | None = None):
        self.kb = kb
        self.folder = folder
        self.parser = parser
        self._insights: ReviewInsights | None = None
        self._claims: ReviewInsights | None = None
        self._lock = threading.Lock()

    def insights(self) -> ReviewInsights:
        """Insights from sentences scored by the NLU's sentiment head (the stars without an NLU model)."""
        with self._lock:
            if self._insights is None:
                scorer = self.parser.sentiment_probabilities if self.parser is not None else None
                scorer_id = sentiment_model_id(self.parser) if self.parser is not None else "stars"
                self._insights = ReviewInsights(self.kb, load_or_analyse(self.kb.reviews, self.folder, scorer,
                                                                         scorer_id))
            return self._insights

    def note_for(self, product: Product, text: str) -> str | None:
        """The page's claims the reviews dispute that `text` touches ("The page says waterproof; 4 of 23 reviewers
        report leaks.")."""
        if not self.kb.reviews:
            return None
        with self._lock:
            if self._claims is None:
                self._claims = self._insights or ReviewInsights(self.kb, analyse_reviews(self.kb.reviews))
        return self._claims.note_for(product, text)
