"""Review sentiment of the store's own head: train the demo NLU by the production code path, then score product-review
sentences it never trained on (`review_sentences_dev.csv`, written for this benchmark in another style than the
training rows), the DummyJSON catalogue's review comments and SST-2 dev, with the
demo held-out intent accuracy and the training time beside them.

    python benchmarks/nlu/bench_review_sentiment.py --json benchmarks/results/nlu/review_sentiment.json
    python benchmarks/nlu/bench_review_sentiment.py --sentiment OLD.csv --json before.json   # another sentiment file
    python benchmarks/nlu/bench_review_sentiment.py --config '{"sentiment_per_epoch": 2000}'  # TrainConfig overrides
    python benchmarks/nlu/bench_review_sentiment.py --extra ../shared/datasets/sentiment/sst2/train.csv --extra-rows 4000

`--extra` rows only ever train the throw-away model of this benchmark, never the store's: the project's own candidate
rows being tried before they go into `sentiment.csv`, or a public set.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from bot.nlu.data import SENTIMENT_LABELS, Example, load_labelled_csv, load_sentiment_data
from bot.nlu.evaluation import evaluate_sentiment
from bot.nlu.parser import NluParser
from bot.nlu.pipeline import load_training_data
from bot.nlu.trainer import TrainConfig, train_nlu
from bot.reporting import write_report
from retrieval.embeddings import packaged_minilm_path
from retrieval.loaders import load_knowledge_base

ROOT = Path(__file__).resolve().parents[2]
REVIEW_DEV = Path(__file__).resolve().parent / "review_sentences_dev.csv"
SST2_DEV = ROOT.parent / "shared" / "datasets" / "sentiment" / "sst2" / "dev.csv"
DUMMYJSON = ROOT.parent / "shared" / "datasets" / "catalog" / "dummyjson_products.json"


def dummyjson_reviews(path: Path) -> list[Example]:
    """The review comments of the DummyJSON catalogue (MIT): rating 4 or 5 positive, 1 to 3 negative (its comments
    for ratings 1 to 3 are all complaints)."""
    products = json.loads(path.read_text())
    products = products["products"] if isinstance(products, dict) else products
    return [Example(r["comment"], "positive" if r["rating"] >= 4 else "negative", file=str(path))
            for p in products for r in p.get("reviews", [])]


def load_test(path: Path) -> list[Example]:
    """A `text,label` CSV, or the DummyJSON catalogue's reviews."""
    return dummyjson_reviews(path) if path.suffix == ".json" else load_labelled_csv(path, SENTIMENT_LABELS)


def errors(parser: NluParser, test: list[Example]) -> list[dict[str, Any]]:
    """The test rows the head gets wrong (binary: positive against negative), with P(positive)."""
    wrong = []
    for example, probs in zip(test, parser.sentiment_probabilities([e.text for e in test]), strict=True):
        predicted = "positive" if probs["positive"] >= probs["negative"] else "negative"
        if predicted != example.label:
            wrong.append({"text": example.text, "label": example.label,
                          "p_positive": round(probs["positive"] / (probs["positive"] + probs["negative"]), 3)})
    return wrong


def score(folder: Path, tests: dict[str, Path]) -> dict[str, Any]:
    """evaluate_sentiment (as `shopbot eval sentiment` scores) on each test set; review-set errors listed."""
    parser = NluParser.load(folder)
    out: dict[str, Any] = {}
    for name, path in tests.items():
        if not path.is_file():
            out[name] = {"skipped": f"{path} not found"}
            continue
        test = load_test(path)
        out[name] = {**evaluate_sentiment(parser, test), "test": str(path)}
        if name == "review_dev":
            out[name]["errors"] = errors(parser, test)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kb", type=Path, default=ROOT / "knowledge_base" / "demo")
    parser.add_argument("--sentiment", type=Path, default=None, help="sentiment file instead of the store's")
    parser.add_argument("--extra", type=Path, default=None, help="a text,label CSV added to the sentiment rows")
    parser.add_argument("--extra-rows", type=int, default=None, help="a random sample of this many --extra rows")
    parser.add_argument("--config", default="{}", help="TrainConfig overrides as JSON")
    parser.add_argument("--model", type=Path, default=None, help="score this trained model instead of training one")
    parser.add_argument("--keep", type=Path, default=None, help="keep the trained model in this folder")
    parser.add_argument("--review-dev", type=Path, default=REVIEW_DEV)
    parser.add_argument("--sst2-dev", type=Path, default=SST2_DEV)
    parser.add_argument("--dummyjson", type=Path, default=DUMMYJSON)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    tests = {"review_dev": args.review_dev, "sst2_dev": args.sst2_dev, "dummyjson_reviews": args.dummyjson}
    report: dict[str, Any] = {"machine": f"{platform.machine()}, {platform.processor() or 'cpu'}"}
    if args.model is not None:
        report.update({"model": str(args.model), **score(args.model, tests)})
    else:
        intents, sentiment, _ = load_training_data(load_knowledge_base(args.kb))
        if args.sentiment is not None:
            sentiment = load_sentiment_data(args.sentiment)
        if args.extra is not None:
            extra = load_labelled_csv(args.extra, SENTIMENT_LABELS)
            if args.extra_rows is not None:
                extra = random.Random(0).sample(extra, min(args.extra_rows, len(extra)))
            sentiment = sentiment + extra
            report["extra"] = {"file": str(args.extra), "rows": len(extra)}
        config = TrainConfig(**json.loads(args.config))
        with tempfile.TemporaryDirectory() as scratch:
            folder = args.keep or Path(scratch)
            folder.mkdir(parents=True, exist_ok=True)
            started = time.perf_counter()
            metadata = train_nlu(intents, sentiment, packaged_minilm_path(), folder, config)
            wall = time.perf_counter() - started
            report.update({"config": metadata["config"], "n_intent_examples": len(intents),
                           "n_sentiment_examples": len(sentiment), "train_seconds": metadata["train_seconds"],
                           "train_wall_seconds": round(wall, 1), "holdout": metadata["metrics"],
                           **score(folder, tests)})
    summary = {k: report[k]["accuracy"] for k in tests if "accuracy" in report.get(k, {})}
    print(json.dumps({**summary, "train_seconds": report.get("train_seconds"), "holdout": report.get("holdout")}))
    write_report(args.json, report)


if __name__ == "__main__":
    main()
