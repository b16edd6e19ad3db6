"""Draw the in-scope accuracy / out-of-scope recall trade-off of an intent sweep (`sweep_intent.py --json`).

    python benchmarks/nlu/plot_oos_tradeoff.py benchmarks/results/nlu/clinc150_val_sweep_oos_weight4.json \
        benchmarks/results/nlu/clinc150_oos_tradeoff.png
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(sweep: Path, out: Path) -> None:
    runs = json.loads(sweep.read_text())
    figure, axis = plt.subplots(figsize=(6, 4.5))
    for run in runs:
        points = sorted((m["oos_recall"], m["in_scope_accuracy"], float(t)) for t, m in run["curve"].items())
        label = ", ".join(f"{k}={v}" for k, v in run["config"].items() if k in ("epochs", "oos_weight"))
        axis.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=label)
        for recall, accuracy, threshold in points[::3]:
            axis.annotate(f"{threshold:.2f}", (recall, accuracy), textcoords="offset points", xytext=(4, 4), fontsize=7)
        chosen = run["val"]
        axis.scatter([chosen["oos_recall"]], [chosen["in_scope_accuracy"]], s=120, facecolors="none",
                     edgecolors="black", label="threshold chosen on held-out train slice")
    axis.axvline(0.90, color="grey", linestyle=":")
    axis.axhline(0.96, color="grey", linestyle=":")
    axis.set_xlabel("out-of-scope recall (val)")
    axis.set_ylabel("in-scope accuracy (val)")
    axis.set_title("CLINC150 val: threshold trade-off (labels: confidence threshold)")
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(out, dpi=120)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
