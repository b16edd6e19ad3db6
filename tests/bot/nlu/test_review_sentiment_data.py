"""The review-sentence dev set of benchmarks/nlu/bench_review_sentiment.py stays apart from the demo training rows."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from bot.nlu.data import SENTIMENT_LABELS, load_labelled_csv, load_sentiment_data

ROOT = Path(__file__).resolve().parents[3]
REVIEW_DEV = ROOT / "benchmarks" / "nlu" / "review_sentences_dev.csv"
DEMO_SENTIMENT = ROOT / "knowledge_base" / "demo" / "sentiment.csv"


def normalised(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def test_review_dev_set_is_binary_balanced_and_never_trained_on() -> None:
    dev = load_labelled_csv(REVIEW_DEV, SENTIMENT_LABELS)
    labels = Counter(e.label for e in dev)
    assert set(labels) == {"negative", "positive"} and min(labels.values()) >= 100
    assert len({normalised(e.text) for e in dev}) == len(dev), "a dev sentence is listed twice"
    trained = {normalised(e.text) for e in load_sentiment_data(DEMO_SENTIMENT)}
    assert sorted(e.text for e in dev if normalised(e.text) in trained) == []
