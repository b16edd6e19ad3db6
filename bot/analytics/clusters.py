"""The questions the bot could not answer, grouped by meaning, each group a suggested FAQ entry for the owner.

Texts are redacted first (emails, phone and card numbers: `bot.logs.redact`), then the same question asked again
is counted once with its count (compared case- and space-folded), then the distinct questions are embedded (the
store's MiniLM embedder, normalised) and grouped greedily, most asked first: a question joins the group whose
centroid is most similar to it when that cosine similarity is at least `threshold`, else it starts a group.

A group's suggested FAQ entry is its representative question (the member closest to the group's centroid; the more
asked one on a tie) with the other phrasings as alternates, in the shape of the store's `faq.csv`. It never has an
answer: the owner writes it. The only hint is the store's nearest existing source (id, title, similarity), so the
owner can see whether an entry exists that only needs another phrasing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bot.analytics.figures import Unanswered
from bot.logs import redact

Embed = Callable[[list[str]], np.ndarray]          # texts -> one L2-normalised row each
Nearest = Callable[[str], "dict[str, Any] | None"]  # question -> {id, title, similarity} of the store's best source
THRESHOLD = 0.6
MAX_ALTERNATES = 5
_SPACE = re.compile(r"\s+")
_EDGE = re.compile(r"^[\s\W_]+|[\s\W_]+$")
_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass
class Question:
    """A distinct question (as first written, redacted) and how often, and why, it went unanswered."""

    text: str
    count: int = 0
    why: dict[str, int] = field(default_factory=dict)


@dataclass
class Cluster:
    questions: list[Question]
    centroid: np.ndarray
    vectors: list[np.ndarray]

    @property
    def count(self) -> int:
        return sum(q.count for q in self.questions)


def fold(text: str) -> str:
    """What makes two questions the same question: case, spacing and leading or trailing punctuation aside."""
    return _EDGE.sub("", _SPACE.sub(" ", text.casefold())).strip()


def distinct_questions(unanswered: Sequence[Unanswered]) -> list[Question]:
    """The redacted questions, each once with its count, most asked first (first seen first on a tie)."""
    found: dict[str, Question] = {}
    for item in unanswered:
        text = _SPACE.sub(" ", redact(item.text)).strip()
        key = fold(text)
        if not key:
            continue
        question = found.setdefault(key, Question(text))
        question.count += 1
        question.why[item.why] = question.why.get(item.why, 0) + 1
    return sorted(found.values(), key=lambda q: -q.count)


def cluster_questions(unanswered: Sequence[Unanswered], embed: Embed, nearest: Nearest | None = None,
                      threshold: float = THRESHOLD, limit: int | None = None) -> list[dict[str, Any]]:
    """The unanswered questions grouped by meaning, most asked group first, each with its suggested FAQ entry."""
    questions = distinct_questions(unanswered)
    if not questions:
        return []
    vectors = np.asarray(embed([q.text for q in questions]), dtype=np.float32)
    clusters: list[Cluster] = []
    for question, vector in zip(questions, vectors, strict=True):
        best, similarity = _closest(clusters, vector)
        if best is not None and similarity >= threshold:
            best.questions.append(question)
            best.vectors.append(vector)
            centroid = np.mean(best.vectors, axis=0)
            best.centroid = centroid / (np.linalg.norm(centroid) or 1.0)
        else:
            clusters.append(Cluster([question], vector, [vector]))
    clusters.sort(key=lambda c: -c.count)
    return [_suggestion(c, nearest) for c in clusters[:limit]]


def _closest(clusters: list[Cluster], vector: np.ndarray) -> tuple[Cluster | None, float]:
    if not clusters:
        return None, -1.0
    similarities = np.stack([c.centroid for c in clusters]) @ vector
    index = int(np.argmax(similarities))
    return clusters[index], float(similarities[index])


def _suggestion(cluster: Cluster, nearest: Nearest | None) -> dict[str, Any]:
    scores = np.stack(cluster.vectors) @ cluster.centroid
    order = sorted(range(len(cluster.questions)), key=lambda i: (-round(float(scores[i]), 4),
                                                                  -cluster.questions[i].count))
    representative = cluster.questions[order[0]]
    why: dict[str, int] = {}
    for question in cluster.questions:
        for reason, count in question.why.items():
            why[reason] = why.get(reason, 0) + count
    alternates = [cluster.questions[i].text for i in order[1:1 + MAX_ALTERNATES]]
    return {"question": representative.text, "asked": cluster.count, "phrasings": len(cluster.questions),
            "why": why, "examples": [{"text": q.text, "count": q.count} for q in cluster.questions],
            "suggested_faq": {"id": _slug(representative.text), "question": representative.text,
                              "alternates": alternates},
            "nearest_source": nearest(representative.text) if nearest is not None else None}


def _slug(text: str) -> str:
    return _SLUG.sub("-", fold(text))[:48].strip("-") or "question"


def index_nearest(index: Any) -> Nearest:
    """The store's best passage for a question (`retrieval.index.KnowledgeIndex`), as a hint only."""

    def nearest(question: str) -> dict[str, Any] | None:
        hits = index.search(question, k=1)
        if not hits:
            return None
        hit = hits[0]
        return {"id": hit.passage.id, "title": hit.passage.title,
                "similarity": round(float(hit.similarity), 3) if hit.similarity is not None else None}

    return nearest


def index_embed(index: Any) -> Embed:
    """The store's own embedder (the packaged MiniLM, tuned on the store's FAQ when it has alternates)."""
    return lambda texts: index.embedder.encode(texts)
