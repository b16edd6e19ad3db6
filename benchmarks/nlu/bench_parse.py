"""Parse latency of the store's trained NLU model: one message at a time, and batches of 32.

    shopbot train && python benchmarks/nlu/bench_parse.py --json benchmarks/results/nlu/parse_latency.json
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import statistics
import time
from pathlib import Path

from bot.config import load_settings
from bot.nlu.pipeline import latest_model, load_store_parser
from bot.reporting import percentile, write_report
from retrieval.loaders import load_knowledge_base

QUERIES = Path(__file__).resolve().parents[1] / "retrieval" / "demo_paraphrases.csv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kb", type=Path, default=None)
    parser.add_argument("--backend", choices=("onnx", "torch"), default="onnx")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    settings = load_settings(None, kb_dir=args.kb)
    kb = load_knowledge_base(settings.kb_dir)
    folder = latest_model(kb, settings.cache_dir)
    if folder is None:
        raise SystemExit("no trained model: run `shopbot train` first")
    nlu = load_store_parser(kb, folder, onnx=args.backend == "onnx")
    with QUERIES.open() as handle:
        texts = [row["query"] for row in csv.DictReader(handle)]
    for text in texts[:20]:  # warm-up
        nlu.parse(text)
    single = []
    for text in texts:
        started = time.perf_counter()
        nlu.parse(text)
        single.append((time.perf_counter() - started) * 1000)
    batches = []
    for _ in range(3):
        for start in range(0, len(texts) - 31, 32):
            started = time.perf_counter()
            nlu.parse_batch(texts[start:start + 32])
            batches.append((time.perf_counter() - started) * 1000)
    report = {"backend": nlu.backend, "messages": len(texts), "p50_ms": round(statistics.median(single), 2),
              "p95_ms": round(percentile(single, 0.95), 2), "batch32_p50_ms": round(statistics.median(batches), 1),
              "batch32_p95_ms": round(percentile(batches, 0.95), 1), "model": folder.name,
              "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}"}
    print(json.dumps(report))
    write_report(args.json, report)


if __name__ == "__main__":
    main()
