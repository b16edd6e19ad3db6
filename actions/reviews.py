"""Reviews in chat: "what do people say about X?", "is X true to size?", "any complaints about X?", "is X really
waterproof?" answered with counts and the share positive, the top pros and cons quoted (with review ids), the
product page's claims the reviews dispute, and a short summary the LM writes when the bot installed a summarizer
(its sentences guarded against those reviews only).

The product is the one the message names (the `product` entity, or the slot the engine set from it), else the
last one shown. The insights come from the service the bot installed (`set_review_service`: sentences scored by
its NLU's sentiment head at index time); a stock action server opens the store's cached analysis, or scores by
the stars.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.products import ask_which, asked_product, latest_text
from actions.services import action_settings, get_recommender
from retrieval.reviews.analysis import analyse_reviews, cached_analysis
from retrieval.reviews.answers import question_focus, render_answer
from retrieval.reviews.insights import ReviewInsights
from retrieval.store import index_folder

log = logging.getLogger("shopbot.actions")
ANALYSIS_FOLDER = "reviews"


class SummaryLike(Protocol):
    sentences: list[str]


Summarize = Callable[[str, str, Sequence[tuple[str, str]]], Awaitable[SummaryLike]]
_insights: ReviewInsights | None = None
_provider: Callable[[], ReviewInsights] | None = None
_summarize: Summarize | None = None
_lock = threading.RLock()


def set_review_service(insights: Callable[[], ReviewInsights] | None, summarize: Summarize | None = None) -> None:
    """Install what makes the store's review insights (called when first needed) and the LM summarizer (the
    in-process engine does), or None for the defaults (the cached analysis, no summary)."""
    global _insights, _provider, _summarize
    with _lock:
        _insights, _provider, _summarize = None, insights, summarize


def get_review_insights() -> ReviewInsights:
    """The installed insights, else the served store's: its cached analysis in `cache_dir/reviews`, or one scored by
    the stars."""
    global _insights
    with _lock:
        if _insights is None and _provider is not None:
            _insights = _provider()
        if _insights is None:
            kb = get_recommender().search.kb
            settings = action_settings()
            folder = settings.cache_dir / ANALYSIS_FOLDER / index_folder(settings, kb).name
            analysis = cached_analysis(kb.reviews, folder) if folder.is_dir() else None
            analysis = analysis or analyse_reviews(kb.reviews)
            _insights = ReviewInsights(kb, analysis)
        return _insights


def get_summarizer() -> Summarize | None:
    with _lock:
        return _summarize


class ActionReviewInsights(Action):
    """What reviewers say about the product asked about, counted and quoted."""

    def name(self) -> str:
        return "action_review_insights"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        recommender = get_recommender()
        product = asked_product(tracker, recommender)
        shown = (tracker.get_slot("product_state") or {}).get("shown") or []
        if product is None and len(shown) == 1:
            product = recommender.search.kb.product(str(shown[0]))
        if product is None:
            if len(shown) > 1:
                ask_which(dispatcher, recommender, shown, "product_reviews",
                          "Which product's reviews would you like? Tap one or tell me its name.")
                return []
            dispatcher.utter_message(text="Which product do you mean? Tell me its name and I'll see what reviewers "
                                          "say.")
            return []
        question = latest_text(tracker)
        found = (await asyncio.to_thread(get_review_insights)).for_product(product.id)
        assert found is not None
        focus = question_focus(question)
        text = render_answer(found, focus)
        summary: list[str] = []
        summarize = get_summarizer()
        aspect = focus if focus in ("fit", "waterproofing") else None
        quotable = [(s.review_id, s.text) for s in found.quotable(aspect=aspect)]
        if summarize is not None and quotable:
            try:
                summary = list((await summarize(question, product.title, quotable)).sentences)
            except Exception:  # the counted answer stands on its own
                log.exception("review summary failed")
        if summary:
            text += " In short: " + " ".join(summary)
        quoted = sorted({q.review_id for q in found.pros + found.cons} |
                        {c.quote.review_id for c in found.contradictions if c.quote})
        dispatcher.utter_message(text=text, json_message={"reviews": {
            "product": product.id, "focus": focus, "insights": found.to_dict(), "summary": summary,
            "sources": [f"review:{rid}" for rid in quoted]}})
        return [SlotSet("product", product.id)]
