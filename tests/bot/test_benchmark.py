"""`shopbot bench`: the shopper mix, and a small real run of both servers (ours and the naive baseline)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.benchmark import demo_orders, demo_questions, session_script
from bot.cli import main


def test_session_scripts_mix_faq_products_and_whole_order_look_ups() -> None:
    orders = dict(demo_orders())
    scripts = [session_script(random.Random(seed), 6, demo_questions(), list(orders.items())) for seed in range(40)]
    kinds = {kind for script in scripts for kind, _ in script}
    assert kinds == {"faq", "product", "order"} and all(len(script) == 6 for script in scripts)
    for script in scripts:
        for (kind, text), (next_kind, next_text) in zip(script, script[1:]):
            if kind == "order" and text.startswith("where is my order"):
                assert next_kind == "order" and orders[text.split()[-1].rstrip("?")] == next_text  # its own email
    assert session_script(random.Random(3), 5, demo_questions(), list(orders.items())) == \
        session_script(random.Random(3), 5, demo_questions(), list(orders.items()))  # same seed, same load


@pytest.mark.slow
def test_bench_runs_both_servers_and_reports_the_figures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPBOT_CACHE_DIR", str(tmp_path / "cache"))  # a fresh store: no NLU, index built here
    monkeypatch.setenv("SHOPBOT_FINETUNE", "false")
    out, plot = tmp_path / "bench.json", tmp_path / "latency.png"
    result = CliRunner().invoke(main, ["bench", "--sessions", "3", "--turns", "3", "--alone", "3", "--responder",
                                       "extractive", "--json", str(out), "--plot", str(plot)])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    for key in ("throughput_rps", "p50_ms", "p95_ms", "p99_ms", "rss_mb", "baseline_throughput_rps",
                "throughput_ratio_vs_baseline"):
        assert isinstance(report[key], (int, float)) and report[key] > 0, key
    assert report["first_chunk_p50_ms"] > 0  # extractive answers stream too, as one chunk
    assert report["errors"] == 0 and report["phases"]["baseline"]["errors"] == 0
    assert report["phases"]["shopbot"]["turns"] == report["phases"]["baseline"]["turns"] == 9
    assert report["phases"]["shopbot"]["models"]["embed_batches"] >= 1  # the real server batched its queries
    assert "throughput ratio vs baseline" in result.output and plot.stat().st_size > 10_000
