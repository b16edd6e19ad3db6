"""Query encoders compared in one process: sentence-transformers' own ONNX backend (through its modules, through
`encode()`, and with its session called directly, which is what the embedder runs), our earlier hand-written
ONNX export and session (`handwritten_onnx.py`), and PyTorch.

Single-query latency: every paraphrase query through each encoder in turn (the order shuffled per query, so
load on a shared machine hits all alike), for several rounds; each round gives a p50 and p95 per encoder, and
the report holds the median of the rounds and their spread. Batch throughput: the demo's FAQ and policy texts in
batches of 8 (the largest batch queries send to ONNX) and 32 (the index build's). All sessions run with the same
ONNX Runtime options (`retrieval.onnx_encoder.session_options`). The packaged MiniLM is used: the FAQ-tuned
model has the same architecture, so the same cost.

    python benchmarks/retrieval/bench_onnx_backends.py --rounds 5 --json benchmarks/results/retrieval_onnx_backends.json
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np  # noqa: E402

from benchmarks.retrieval.handwritten_onnx import HandwrittenOnnxEncoder  # noqa: E402
from retrieval.store import DEMO_KB  # noqa: E402
from bot.reporting import percentile, write_report  # noqa: E402
from retrieval.embeddings import forward_normalised, resolve_model  # noqa: E402
from retrieval.loaders import load_knowledge_base  # noqa: E402
from retrieval.onnx_encoder import OnnxQueryEncoder, default_threads, onnx_sentence_transformer  # noqa: E402

HERE = Path(__file__).resolve().parent
Encoder = Callable[[list[str]], np.ndarray]


def encoders(cache: Path) -> dict[str, Encoder]:
    """name -> texts -> normalised vectors, each loaded once."""
    from sentence_transformers import SentenceTransformer

    path, model_id = resolve_model(None)
    torch_model = SentenceTransformer(str(path), device="cpu", local_files_only=True).eval()
    onnx_model = onnx_sentence_transformer(path, cache / "library", model_id)  # what `Embedder` loads
    ours = HandwrittenOnnxEncoder(torch_model, cache / "handwritten")
    return {
        # what `Embedder` runs for queries: the library's export and session, without ORTModel.forward
        "library_session_direct": OnnxQueryEncoder(onnx_model).encode,
        # the library's ONNX model through all its modules (ORTModel.forward included)
        "library_onnx": lambda texts: forward_normalised(onnx_model, texts),
        "library_onnx_encode": lambda texts: onnx_model.encode(texts, batch_size=len(texts), normalize_embeddings=True,
                                                               convert_to_numpy=True),
        "handwritten_onnx": ours.encode,
        "torch": lambda texts: forward_normalised(torch_model, texts),
    }


def latency_rounds(run: dict[str, Encoder], queries: list[str], rounds: int, seed: int) -> dict[str, list[dict]]:
    rng = random.Random(seed)
    names = list(run)
    for query in queries[:20]:  # warm every session's kernels and caches
        for name in names:
            run[name]([query])
    per_round: dict[str, list[dict]] = {name: [] for name in names}
    for _ in range(rounds):
        times: dict[str, list[float]] = {name: [] for name in names}
        for query in queries:
            rng.shuffle(names)
            for name in names:
                started = time.perf_counter()
                run[name]([query])
                times[name].append((time.perf_counter() - started) * 1000)
        for name, values in times.items():
            per_round[name].append({"p50_ms": round(statistics.median(values), 3),
                                    "p95_ms": round(percentile(values, 0.95), 3)})
    return per_round


def throughput(run: dict[str, Encoder], texts: list[str], batch_size: int, rounds: int) -> dict[str, list[float]]:
    """texts per second, per round, batching the texts sorted by length (as `Embedder.encode` does)."""
    ordered = sorted(texts, key=len, reverse=True)
    batches = [ordered[i:i + batch_size] for i in range(0, len(ordered), batch_size)]
    out: dict[str, list[float]] = {name: [] for name in run}
    for _ in range(rounds):
        for name, encode in run.items():
            started = time.perf_counter()
            for batch in batches:
                encode(batch)
            out[name].append(round(len(texts) / (time.perf_counter() - started), 1))
    return out


def summary(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3), "max": round(max(values), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=Path, default=HERE / "demo_paraphrases.csv")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch-rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    with open(args.queries, encoding="utf-8") as handle:
        queries = [row["query"] for row in csv.DictReader(handle)]
    kb = load_knowledge_base(DEMO_KB)
    texts = [text for passage in kb.passages() if passage.kind != "product" for _, text in passage.embedding_views()]
    with tempfile.TemporaryDirectory() as cache:
        started = time.perf_counter()
        run = encoders(Path(cache))
        load_s = time.perf_counter() - started

        probe = queries[:8] + texts[:8]
        reference = run["torch"](probe)
        agreement = {name: float(np.abs(encode(probe) - reference).max()) for name, encode in run.items()}

        rounds = latency_rounds(run, queries, args.rounds, args.seed)
        batches = {f"batch_{size}": throughput(run, texts, size, args.batch_rounds) for size in (8, 32)}

    report = {
        "n_queries": len(queries), "rounds": args.rounds, "n_batch_texts": len(texts),
        "onnx_threads": default_threads(), "cpu_count": os.cpu_count(), "machine": platform.machine(),
        "load_all_s": round(load_s, 1),
        "max_abs_diff_vs_torch": {name: f"{diff:.1e}" for name, diff in agreement.items()},
        "single_query": {name: {"p50_ms": summary([r["p50_ms"] for r in values]),
                                "p95_ms": summary([r["p95_ms"] for r in values])} for name, values in rounds.items()},
        # paired per round (same queries, same moment): a consistent sign is a real difference, not load
        "p50_minus_handwritten_ms": {name: [round(a["p50_ms"] - b["p50_ms"], 3)
                                            for a, b in zip(values, rounds["handwritten_onnx"])]
                                     for name, values in rounds.items() if name != "handwritten_onnx"},
        "texts_per_s": {batch: {name: summary(values) for name, values in per.items()} for batch, per in batches.items()},
        "rounds_detail": rounds,
        "note": "shared 2-core machine: compare encoders within this run, not with other runs",
    }
    print(json.dumps({k: v for k, v in report.items() if k != "rounds_detail"}, indent=2))
    write_report(args.json, report)


if __name__ == "__main__":
    main()
