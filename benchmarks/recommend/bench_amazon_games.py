"""Next-item recommendation on Amazon Games (the SASRec papers' data and protocol): the sequential model and both
baselines (popularity, item-item co-occurrence) trained on `train_for_dev.txt` and scored on `dev.txt` in one run.

Each dev shopper's true next item is ranked among 100 items they never touched; HR@10, NDCG@10, MRR, the training
time and the time to score one shopper (p50, p95) are reported, printed as a table and written as JSON.
`--users N` scores an evenly spread N of the dev shoppers (every k-th): the first shoppers in the file are much
harder than the average (popularity HR@10 0.43 on the first 5,000, 0.50 on all), so a prefix misleads.

    python benchmarks/recommend/bench_amazon_games.py
    python benchmarks/recommend/bench_amazon_games.py --users 5000 --epochs 10 --config '{"dim": 128}'
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bot.reporting import write_report
from retrieval.sequential.baselines import CoOccurrence, Popularity
from retrieval.sequential.data import item_count, load_cases, load_sequences
from retrieval.sequential.evaluation import compare
from retrieval.sequential.model import SequentialConfig, train_sequential

DATA = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "recsys" / "amazon_games"  # ../shared
RESULTS = Path(__file__).resolve().parents[1] / "results" / "recommend"
COLUMNS = ("model", "hr@10", "ndcg@10", "mrr", "train_seconds", "p50_ms", "p95_ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="folder with train_for_dev.txt and dev.txt")
    parser.add_argument("--epochs", type=int, default=None, help="training epochs (default: the tuned config's)")
    parser.add_argument("--users", type=int, default=None, help="score an evenly spread N of the dev shoppers")
    parser.add_argument("--config", default="{}", help="JSON: SequentialConfig fields to change")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--json", type=Path, default=RESULTS / "amazon_games_dev.json", help="where the report goes")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    train, cases = load_sequences(args.data / "train_for_dev.txt"), load_cases(args.data / "dev.txt")
    n_items = item_count(train, cases)
    if args.users is not None and args.users < len(cases):
        cases = cases[::max(1, len(cases) // args.users)][:args.users]
    changes = json.loads(args.config)
    if args.epochs is not None:
        changes["epochs"] = args.epochs
    config = dataclasses.replace(SequentialConfig(), **changes)
    builders = [Popularity, CoOccurrence,
                lambda data: train_sequential(data, n_items, config, progress=sys.stderr.isatty())]
    models = compare(builders, train, cases)
    print(" | ".join(f"{c:>13}" for c in COLUMNS))
    for row in models:
        print(" | ".join(f"{row[c]!s:>13}" for c in COLUMNS))
    write_report(args.json, {"train": str(args.data / "train_for_dev.txt"), "test": str(args.data / "dev.txt"),
                             "n_users": len(cases), "torch_threads": args.threads, "models": models,
                             "machine": f"{platform.machine()}, {os.cpu_count()} cpus, {platform.python_version()}"})


if __name__ == "__main__":
    main()
