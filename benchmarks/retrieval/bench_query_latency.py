"""Query latency of the store index at a given size, and the demo store's index build time.

Grows the demo store to N passages by adding catalog variants (the same products in other editions and
colours, re-described), builds the index, then times `KnowledgeIndex.search` on the paraphrase benchmark's
queries: the whole search (embedding included), and the embedding and the index lookup separately.

    python benchmarks/retrieval/bench_query_latency.py --passages 5000 --json benchmarks/results/retrieval_latency.json
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import statistics
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bot.config import DEMO_KB, load_settings, make_embedder  # noqa: E402
from bot.reporting import percentile, write_report  # noqa: E402
from retrieval.documents import Passage, product_passage  # noqa: E402
from retrieval.index import KnowledgeIndex  # noqa: E402
from retrieval.loaders import load_knowledge_base  # noqa: E402

HERE = Path(__file__).resolve().parent
EDITIONS = ["", "Pro", "Lite", "2", "3", "Max", "Trail Edition", "Travel", "Classic", "Sport", "Plus", "Eco",
            "Ultra", "Mini", "XL", "Limited"]


def grow(passages: list[Passage], products: list, target: int) -> list[Passage]:
    """Add product variants until there are `target` passages."""
    out = list(passages)
    round_number = 1
    while len(out) < target:
        for product in products:
            if len(out) >= target:
                break
            edition = EDITIONS[round_number % len(EDITIONS)] or f"V{round_number}"
            colors = product.colors[round_number % len(product.colors):] + product.colors[: round_number % len(product.colors)]
            variant = replace(product, id=f"{product.id}-{round_number}", title=f"{product.title} {edition}",
                              price=round(product.price * (0.85 + 0.03 * (round_number % 10)), 2),
                              attributes={**product.attributes, "colors": list(colors)})
            out.append(product_passage(variant))
        round_number += 1
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=5000)
    parser.add_argument("--queries", type=Path, default=HERE / "demo_paraphrases.csv")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    kb = load_knowledge_base(DEMO_KB)
    embedder = make_embedder(load_settings(), kb.faq)  # as the bot runs it: FAQ-tuned, ONNX Runtime for queries
    embedder.warm_up()

    started = time.perf_counter()
    KnowledgeIndex.build(kb.passages(), embedder)
    demo_build_s = time.perf_counter() - started

    passages = grow(kb.passages(), kb.products, args.passages)
    started = time.perf_counter()
    index = KnowledgeIndex.build(passages, embedder, progress=True)
    build_s = time.perf_counter() - started

    with open(args.queries, encoding="utf-8") as handle:
        queries = [row["query"] for row in csv.DictReader(handle)]
    for query in queries[:10]:
        index.search(query)
    total, encode, lookup = [], [], []
    for query in queries:
        t0 = time.perf_counter()
        vector = embedder.encode_query(query)
        t1 = time.perf_counter()
        index.search_with_vector(query, vector, k=5)
        t2 = time.perf_counter()
        index.search(query, k=5)
        t3 = time.perf_counter()
        encode.append((t1 - t0) * 1000)
        lookup.append((t2 - t1) * 1000)
        total.append((t3 - t2) * 1000)
    report = {
        "n_passages": len(index), "n_vectors": len(index.row_passage), "dense_index": index.dense.kind,
        "n_queries": len(queries), "p50_ms": round(statistics.median(total), 2), "p95_ms": round(percentile(total, 0.95), 2),
        "embed_p50_ms": round(statistics.median(encode), 2), "lookup_p50_ms": round(statistics.median(lookup), 2),
        "index_build_s": round(build_s, 1), "demo_index_build_s": round(demo_build_s, 1),
        "demo_passages": len(kb.passages()), "backend": embedder.backend, "cpu_count": os.cpu_count(), "machine": platform.machine(),
    }
    print(json.dumps(report))
    write_report(args.json, report)


if __name__ == "__main__":
    main()
