"""FAQ fine-tuning compared: sentence-transformers' trainer (`retrieval.finetune.finetune_on_faq`, what the
embedder runs) against our earlier hand-written loop (`handwritten_finetune.py`), on the demo FAQ.

For each variant: the training time, then retrieval quality the way `shopbot eval retrieval` measures it (a fresh
FAQ index, dense + BM25, the default retrieval settings) on the tuning set (`demo_paraphrases_dev.csv`, the only
set used to choose settings) and on the benchmark set (`demo_paraphrases.csv`, reported in the README).

    python benchmarks/retrieval/bench_finetune.py --json benchmarks/results/retrieval_finetune.json
    python benchmarks/retrieval/bench_finetune.py --no-handwritten --no-default --variant linear='{"schedule": "linear"}'
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.retrieval.handwritten_finetune import handwritten_finetune_on_faq  # noqa: E402
from bot.reporting import write_report  # noqa: E402
from retrieval.documents import FaqEntry, faq_passage  # noqa: E402
from retrieval.embeddings import Embedder  # noqa: E402
from retrieval.evaluation import evaluate_faq_retrieval, load_queries  # noqa: E402
from retrieval.finetune import METADATA, FinetuneConfig, finetune_on_faq  # noqa: E402
from retrieval.index import KnowledgeIndex, RetrievalConfig  # noqa: E402
from retrieval.loaders import load_faq  # noqa: E402
from retrieval.store import DEMO_KB  # noqa: E402

HERE = Path(__file__).resolve().parent
SETS = {"dev": HERE / "demo_paraphrases_dev.csv", "benchmark": HERE / "demo_paraphrases.csv"}


def quality(folder: Path, faq: list[FaqEntry], cache: Path) -> dict[str, Any]:
    """hit@1, hit@5 and MRR@10 on each query set, with the model in `folder` on the product's query path."""
    embedder = Embedder(folder, onnx_cache=cache)
    index = KnowledgeIndex.build([faq_passage(e) for e in faq], embedder, RetrievalConfig())
    ids = {e.id for e in faq}
    out = {}
    for name, path in SETS.items():
        report = evaluate_faq_retrieval(index, load_queries(path, ids))
        out[name] = {key: report[key] for key in ("hit@1", "hit@5", "mrr", "n_queries")}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faq", type=Path, default=DEMO_KB / "faq.csv")
    parser.add_argument("--variant", action="append", default=[],
                        help="NAME=JSON: the library trainer with these FinetuneConfig fields changed (repeatable)")
    parser.add_argument("--no-handwritten", action="store_true", help="skip the hand-written baseline")
    parser.add_argument("--no-default", action="store_true", help="skip the library trainer with the defaults")
    parser.add_argument("--seed", type=int, default=None, help="another training seed for every variant")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    faq = load_faq(args.faq)
    base = Embedder()
    defaults = FinetuneConfig() if args.seed is None else FinetuneConfig(seed=args.seed)
    runs: list[tuple[str, Any, FinetuneConfig]] = []
    if not args.no_handwritten:
        runs.append(("handwritten_loop", handwritten_finetune_on_faq, defaults))
    if not args.no_default:
        runs.append(("library_trainer", finetune_on_faq, defaults))
    for spec in args.variant:
        name, _, changes = spec.partition("=")
        runs.append((f"library_trainer_{name}", finetune_on_faq, replace(defaults, **json.loads(changes))))

    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for name, train, config in runs:
            folder = Path(scratch) / name
            started = time.perf_counter()
            train(faq, base, folder, config, progress=sys.stderr.isatty())
            seconds = time.perf_counter() - started
            metadata = json.loads((folder / METADATA).read_text())
            results[name] = {"train_s": round(seconds, 1), "steps": metadata["steps"],
                             "final_loss": metadata["final_loss"], "config": asdict(config),
                             **quality(folder, faq, Path(scratch) / "onnx")}
            print(json.dumps({name: results[name]}), flush=True)
    report = {"faq": str(args.faq), "n_faq": len(faq), "variants": results, "cpu_count": os.cpu_count(),
              "machine": platform.machine(), "note": "shared 2-core machine: training times are indicative"}
    write_report(args.json, report)


if __name__ == "__main__":
    main()
