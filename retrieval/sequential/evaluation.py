"""Scoring a next-item recommender the way the SASRec papers do: rank each shopper's true next item among the
sampled items they never touched; report HR@10, NDCG@10, MRR, and the time to score one shopper.

>>> report = evaluate(CoOccurrence(train), train, load_cases(Path("dev.txt")))
>>> report["hr@10"], report["ndcg@10"]
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from retrieval.sequential.data import RankingCase


class Scorer(Protocol):
    """Anything that scores candidate items for a shopper's history (higher is better)."""

    name: str

    def scores(self, history: Sequence[int], candidates: Sequence[int]) -> np.ndarray: ...


def rank_of_true(scores: np.ndarray) -> int:
    """0-based rank of the first candidate (the true item); ties count against it (no credit for a tie)."""
    return int(np.sum(scores[1:] >= scores[0]))


def evaluate(scorer: Scorer, histories: Mapping[int, Sequence[int]], cases: list[RankingCase],
             k: int = 10) -> dict[str, Any]:
    """HR@k, NDCG@k and MRR over `cases`, and per-shopper scoring time (p50, p95 in ms)."""
    hits = ndcg = reciprocal = 0.0
    times: list[float] = []
    for case in cases:
        history = histories.get(case.user, ())
        started = time.perf_counter()
        scores = scorer.scores(history, case.candidates)
        times.append((time.perf_counter() - started) * 1000)
        rank = rank_of_true(np.asarray(scores, dtype=np.float64))
        reciprocal += 1.0 / (rank + 1)
        if rank < k:
            hits += 1
            ndcg += 1.0 / math.log2(rank + 2)
    n = max(len(cases), 1)
    times.sort()
    return {"model": scorer.name, "n_users": len(cases), f"hr@{k}": round(hits / n, 4),
            f"ndcg@{k}": round(ndcg / n, 4), "mrr": round(reciprocal / n, 4),
            "p50_ms": round(statistics.median(times), 4) if times else None,
            "p95_ms": round(times[int(0.95 * (len(times) - 1))], 4) if times else None}


def compare(builders: Sequence[Callable[[Mapping[int, Sequence[int]]], Scorer]],
            histories: Mapping[int, Sequence[int]], cases: list[RankingCase]) -> list[dict[str, Any]]:
    """Build (train) each model on `histories` and score it on `cases`, in one run: `evaluate`'s figures, the
    seconds it took to build, and its training record when it keeps one (`metadata`)."""
    rows = []
    for build in builders:
        started = time.perf_counter()
        scorer = build(histories)
        built = time.perf_counter() - started
        rows.append({**evaluate(scorer, histories, cases), "train_seconds": round(built, 2),
                     **({"training": scorer.metadata} if hasattr(scorer, "metadata") else {})})
    return rows
