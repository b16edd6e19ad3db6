"""Intent and sentiment benchmarks: train a fresh model with the production code path, score a test set."""

from __future__ import annotations

import csv
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

from bot.nlu.data import Example
from bot.nlu.parser import NluParser
from bot.nlu.trainer import TrainConfig, train_nlu
from retrieval.embeddings import packaged_minilm_path


def intent_metrics(gold: list[str], predicted: list[str], oos_label: str | None) -> dict[str, Any]:
    """accuracy and macro F1; with out-of-scope rows also in-scope accuracy, oos recall and precision."""
    gold_a, pred_a = np.array(gold), np.array(predicted)
    metrics: dict[str, Any] = {"accuracy": round(float((gold_a == pred_a).mean()), 4),
                               "macro_f1": round(float(f1_score(gold_a, pred_a, average="macro")), 4)}
    if oos_label is not None and (gold_a == oos_label).any():
        in_scope, oos = gold_a != oos_label, gold_a == oos_label
        predicted_oos = pred_a == oos_label
        metrics.update({
            "in_scope_accuracy": round(float((pred_a[in_scope] == gold_a[in_scope]).mean()), 4),
            "oos_recall": round(float(predicted_oos[oos].mean()), 4),
            "oos_precision": round(float(oos[predicted_oos].mean()) if predicted_oos.any() else 0.0, 4),
        })
    return metrics


def evaluate_intent(train: list[Example], test: list[Example], oos_label: str = "oos",
                    config: TrainConfig | None = None, report_dir: Path | None = None,
                    progress: bool = False) -> dict[str, Any]:
    """Train on `train` (no sentiment data), parse every `test` text in batches, and time single parses."""
    config = config or TrainConfig(oos_label=oos_label)
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        train_nlu(train, [], packaged_minilm_path(), Path(folder), config, progress)
        train_seconds = time.perf_counter() - started
        parser = NluParser.load(Path(folder))
        # Without out-of-scope rows in the test set, a rejection below the threshold can only be wrong: score the
        # top intent, and count the rejections separately.
        has_oos = oos_label in {e.label for e in test}
        predicted, rejected = [], 0
        for start in range(0, len(test), 64):
            for result in parser.parse_batch([e.text for e in test[start:start + 64]]):
                predicted.append(result["intent"]["name"] if has_oos else result["intent_ranking"][0]["name"])
                rejected += result["intent"]["name"] == oos_label != result["intent_ranking"][0]["name"]
        latencies = []
        for example in test[:200]:
            began = time.perf_counter()
            parser.parse(example.text)
            latencies.append((time.perf_counter() - began) * 1000)
    gold = [e.label for e in test]
    report = intent_metrics(gold, predicted, oos_label if has_oos else None)
    report.update({"below_threshold": rejected, "train_seconds": round(train_seconds, 1), "p50_ms": round(statistics.median(latencies), 2),
                   "n_train": len(train), "n_test": len(test), "n_labels": len(set(e.label for e in train))})
    if report_dir is not None:
        write_report(gold, predicted, Path(report_dir))
    return report


def write_report(gold: list[str], predicted: list[str], folder: Path) -> None:
    """`per_label.csv` (precision, recall, F1, support) and `confusion.png` (a confusion-matrix picture)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    labels = sorted(set(gold) | set(predicted))
    precision, recall, f1, support = precision_recall_fscore_support(gold, predicted, labels=labels, zero_division=0)
    with open(folder / "per_label.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["label", "precision", "recall", "f1", "support"])
        for row in zip(labels, precision, recall, f1, support):
            writer.writerow([row[0], *(f"{v:.4f}" for v in row[1:4]), int(row[4])])
    matrix = confusion_matrix(gold, predicted, labels=labels).astype(float)
    matrix /= np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    size = max(6.0, 0.28 * len(labels))
    figure, axis = plt.subplots(figsize=(size, size))
    axis.imshow(matrix, cmap="Blues", vmin=0, vmax=1)
    axis.set_xticks(range(len(labels)), labels, rotation=90, fontsize=max(4, 9 - len(labels) // 20))
    axis.set_yticks(range(len(labels)), labels, fontsize=max(4, 9 - len(labels) // 20))
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    axis.set_title(f"Intent confusion (row-normalised), accuracy {np.mean(np.array(gold) == np.array(predicted)):.3f}")
    figure.tight_layout()
    figure.savefig(folder / "confusion.png", dpi=120)
    plt.close(figure)


def evaluate_sentiment(parser: NluParser, test: list[Example]) -> dict[str, Any]:
    """Accuracy and macro F1; a test set with only negative/positive labels is scored between those two."""
    labels = set(e.label for e in test)
    binary = labels <= {"negative", "positive"}
    predicted = []
    for start in range(0, len(test), 64):
        for result in parser.sentiment_probabilities([e.text for e in test[start:start + 64]]):
            if binary:
                predicted.append("positive" if result["positive"] >= result["negative"] else "negative")
            else:
                predicted.append(max(result, key=result.get))
    gold = [e.label for e in test]
    return {"accuracy": round(float(np.mean(np.array(gold) == np.array(predicted))), 4),
            "macro_f1": round(float(f1_score(gold, predicted, average="macro")), 4), "n_test": len(test),
            "binary": binary, "label_counts": dict(Counter(gold))}
