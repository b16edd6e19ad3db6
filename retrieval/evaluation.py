"""Retrieval benchmark: hit@1, hit@5, MRR and latency of FAQ retrieval on a set of labelled queries."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retrieval.index import KnowledgeIndex
from retrieval.loaders.errors import IssueCollector
from retrieval.loaders.records import read_records

MRR_CUTOFF = 10


@dataclass(frozen=True)
class LabelledQuery:
    query: str
    faq_id: str
    line: int | None = None


def load_queries(path: Path, known_ids: set[str] | None = None) -> list[LabelledQuery]:
    """Read a `query,faq_id` CSV (or JSON/JSONL with those keys); unknown FAQ ids are errors."""
    issues = IssueCollector(path)
    queries = []
    for line, record in read_records(path, list_keys=("queries",)):
        query, faq_id = str(record.get("query") or "").strip(), str(record.get("faq_id") or "").strip()
        if not query:
            issues.add("missing required value", line, "query")
        if not faq_id:
            issues.add("missing required value", line, "faq_id")
        elif known_ids is not None and faq_id not in known_ids:
            issues.add(f"unknown FAQ id '{faq_id}'", line, "faq_id")
        if query and faq_id:
            queries.append(LabelledQuery(query, faq_id, line))
    if not queries and not issues.issues:
        issues.add("no queries")
    issues.raise_if_any()
    return queries


def evaluate_faq_retrieval(index: KnowledgeIndex, queries: list[LabelledQuery]) -> dict[str, Any]:
    """Search every query among FAQ passages; report hit@1, hit@5, MRR@10, p50 latency and the misses."""
    ranks: list[int | None] = []
    latencies: list[float] = []
    misses: list[dict[str, Any]] = []
    index.search("warm up", k=1, kinds=("faq",))
    for item in queries:
        started = time.perf_counter()
        hits = index.search(item.query, k=MRR_CUTOFF, kinds=("faq",))
        latencies.append((time.perf_counter() - started) * 1000)
        found = [h.passage.source_id for h in hits]
        rank = found.index(item.faq_id) + 1 if item.faq_id in found else None
        ranks.append(rank)
        if rank != 1:
            misses.append({"query": item.query, "expected": item.faq_id, "rank": rank, "top": found[:3]})
    n = len(queries)
    return {
        "hit@1": round(sum(r == 1 for r in ranks) / n, 4),
        "hit@5": round(sum(r is not None and r <= 5 for r in ranks) / n, 4),
        "mrr": round(sum(1 / r for r in ranks if r is not None) / n, 4),
        "n_queries": n,
        "p50_ms": round(statistics.median(latencies), 2),
        "p95_ms": round(sorted(latencies)[max(0, int(round(0.95 * n)) - 1)], 2),
        "misses": misses,
    }
