"""Sweep intent-training settings on a train/validation pair (tuning happens on val, never on a test split).

For each setting it trains with the production code (`train_nlu`), then reports the validation figures at the
threshold the trainer chose on its own held-out slice, plus the in-scope accuracy / out-of-scope recall trade-off
over other thresholds, so a setting is picked knowing the whole curve.

    python benchmarks/nlu/sweep_intent.py --train clinc150/train.csv --val clinc150/val.csv \
        --grid '[{"epochs": 2}, {"epochs": 3, "oos_weight": 3}]' --device cuda --json sweep.json
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from bot.nlu.data import load_nlu_data
from bot.nlu.evaluation import intent_metrics
from bot.nlu.model import load_model, softmax
from bot.nlu.trainer import TrainConfig, predict_logits, train_nlu
from retrieval.embeddings import packaged_minilm_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=Path, required=True)
    parser.add_argument("--val", type=Path, required=True)
    parser.add_argument("--grid", default='[{}]', help="JSON list of TrainConfig overrides")
    parser.add_argument("--oos-label", default="oos")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    train, val = load_nlu_data(args.train).examples, load_nlu_data(args.val).examples
    gold = [e.label for e in val]
    results = []
    for overrides in json.loads(args.grid):
        config = replace(TrainConfig(oos_label=args.oos_label), **overrides)
        with tempfile.TemporaryDirectory() as folder:
            started = time.perf_counter()
            metadata = train_nlu(train, [], packaged_minilm_path(), Path(folder), config, device=args.device)
            seconds = time.perf_counter() - started
            model, tokenizer, _ = load_model(Path(folder), args.device)
            logits, _ = predict_logits(model, tokenizer, [e.text for e in val], config.max_tokens)
        probs = softmax(logits / metadata["intent_temperature"])
        labels = np.array(metadata["intents"])
        top, confidence = labels[probs.argmax(1)], probs.max(1)
        curve = {}
        for threshold in np.round(np.linspace(0.0, 0.9, 19), 2):
            predicted = np.where(confidence < threshold, args.oos_label, top).tolist()
            curve[str(threshold)] = intent_metrics(gold, predicted, args.oos_label)
        chosen = np.where(confidence < metadata["oos_threshold"], args.oos_label, top).tolist()
        row = {"config": asdict(config), "train_seconds": round(seconds, 1), "threshold": metadata["oos_threshold"],
               "holdout": metadata["metrics"], "val": intent_metrics(gold, chosen, args.oos_label), "curve": curve}
        results.append(row)
        print(json.dumps({k: row[k] for k in ("train_seconds", "threshold", "val")} | {"overrides": overrides}),
              flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
