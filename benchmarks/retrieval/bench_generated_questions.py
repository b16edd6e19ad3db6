"""Retrieval on an FAQ with no hand-written alternates, tuned on generated questions instead
(`retrieval.question_generation`).

The demo FAQ is loaded and its `alternates` column dropped (what a new store has); questions are written for its
entries (templates, and the packaged LM unless `--no-lm`), filtered, and used as alternates: extra question views
in the index and pairs for tuning the embedder. The evaluation paraphrases are never read before the index is
built. Reports hit@1, hit@5, MRR, p50 latency, the seconds of generation and tuning, and the machine's load.

    python benchmarks/retrieval/bench_generated_questions.py --queries benchmarks/retrieval/demo_paraphrases.csv \
        --json benchmarks/results/retrieval/generated_questions.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from retrieval.documents import faq_passage  # noqa: E402
from retrieval.embeddings import Embedder  # noqa: E402
from retrieval.evaluation import evaluate_faq_retrieval, load_queries  # noqa: E402
from retrieval.finetune import FinetuneConfig, finetune_on_faq, tuned_model_folder  # noqa: E402
from retrieval.index import KnowledgeIndex, RetrievalConfig  # noqa: E402
from retrieval.loaders import load_faq, load_policies  # noqa: E402
from retrieval.question_generation import QuestionConfig, generated_questions, targets_of, with_generated  # noqa: E402


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--faq", type=Path, default=ROOT / "knowledge_base/demo/faq.csv")
    parser.add_argument("--policies", type=Path, default=None, help="also write questions for these policies")
    parser.add_argument("--queries", type=Path, default=ROOT / "benchmarks/retrieval/demo_paraphrases_dev.csv")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/shopbot-bench-questions"))
    parser.add_argument("--no-lm", action="store_true", help="templates only")
    parser.add_argument("--no-templates", action="store_true", help="the LM only")
    parser.add_argument("--lm-budget", type=float, default=QuestionConfig.lm_budget_s)
    parser.add_argument("--filter-rank", type=int, default=QuestionConfig.filter_rank)
    parser.add_argument("--max-per-target", type=int, default=QuestionConfig.max_per_target)
    parser.add_argument("--no-views", action="store_true", help="use the questions for tuning only, not as views")
    parser.add_argument("--no-tune", action="store_true", help="views only, the untuned embedder")
    parser.add_argument("--epochs", type=int, default=FinetuneConfig.epochs)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    faq = [replace(e, alternates=()) for e in load_faq(args.faq)]  # a store that wrote no alternates
    policies = list(load_policies(args.policies)) if args.policies else []
    config = QuestionConfig(lm=not args.no_lm, templates=not args.no_templates, lm_budget_s=args.lm_budget,
                            filter_rank=args.filter_rank, max_per_target=args.max_per_target)
    base = Embedder(device="cpu", onnx_cache=args.cache / "models")
    load_before = load_average()
    started, cpu_started = time.perf_counter(), time.process_time()
    generated = generated_questions(targets_of(faq, policies), base, args.cache, config, progress=True)
    generation_s, generation_cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
    augmented = with_generated(faq, generated)
    started, cpu_started = time.perf_counter(), time.process_time()
    embedder = base
    tune_config = replace(FinetuneConfig(), epochs=args.epochs)
    if not args.no_tune:
        folder = tuned_model_folder(augmented, base, args.cache / "models", tune_config)
        if not (folder / "shopbot_finetune.json").is_file():
            finetune_on_faq(augmented, base, folder, tune_config, progress=True)
        embedder = Embedder(folder, device="cpu", onnx_cache=args.cache / "models")
    tuning_s, tuning_cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
    indexed = faq if args.no_views else augmented
    embedder.warm_up()
    index = KnowledgeIndex.build([faq_passage(e) for e in indexed], embedder, RetrievalConfig())
    queries = load_queries(args.queries, {e.id for e in faq})  # read only now: nothing above saw them
    report = evaluate_faq_retrieval(index, queries)
    report.update({
        "faq": str(args.faq.relative_to(ROOT) if args.faq.is_relative_to(ROOT) else args.faq),
        "alternates": "removed; generated questions instead",
        "queries": str(args.queries.relative_to(ROOT) if args.queries.is_relative_to(ROOT) else args.queries),
        "config": {**vars(config), "views": not args.no_views, "tuned": not args.no_tune, "epochs": args.epochs,
                   "policies": len(policies)},
        "generated": generated.stats, "generated_total": generated.count(),
        "generation_s": round(generation_s, 1), "tuning_s": round(tuning_s, 1),
        # CPU seconds of this process (all threads): on a busy machine, what the work costs, apart from the wait
        "generation_cpu_s": round(generation_cpu_s, 1), "tuning_cpu_s": round(tuning_cpu_s, 1),
        "load_average_before": load_before, "load_average_after": load_average(), "cpus": os.cpu_count(),
        "samples": {e.id: list(generated.for_target(f"faq:{e.id}"))[:6] for e in faq[:5]},
    })
    print(json.dumps({k: report[k] for k in ("hit@1", "hit@5", "mrr", "p50_ms", "generation_s", "tuning_s",
                                             "generated_total", "load_average_after")}))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
