"""`shopbot train`, `shopbot eval intent|sentiment` and the chat's /debug, on a small store, for real."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from bot.cli import main
from tests.bot.nlu.test_training import INTENTS, SENTIMENT, make_store
from tests.support import write


def csv_of(rows: dict[str, list[str]], pick: slice) -> str:
    return "text,label\n" + "".join(f'"{t}",{label}\n' for label, texts in rows.items() for t in texts[pick])


def test_train_then_chat_debug_shows_intent_and_sentiment(tmp_path: Path, monkeypatch) -> None:
    store = make_store(tmp_path / "store")
    monkeypatch.setenv("SHOPBOT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("SHOPBOT_FINETUNE", "false")
    runner = CliRunner()
    result = runner.invoke(main, ["train", "--kb", str(store)])
    assert result.exit_code == 0, result.output
    assert "NLU model trained in" in result.output and '"intents": 4' in result.output
    again = runner.invoke(main, ["train", "nlu", "--kb", str(store)])
    assert again.exit_code == 0 and "up to date" in again.output
    chat = runner.invoke(main, ["chat", "--kb", str(store)], input="/debug\nwhere is my order 10482\n/quit\n")
    assert chat.exit_code == 0, chat.output
    assert "· intent: order_status" in chat.output and "· sentiment:" in chat.output and "order_id=10482" in chat.output


def test_train_reports_bad_data(tmp_path: Path, monkeypatch) -> None:
    store = make_store(tmp_path / "store", {**INTENTS, "deny": ["no"]})
    monkeypatch.setenv("SHOPBOT_CACHE_DIR", str(tmp_path / "cache"))
    result = CliRunner().invoke(main, ["train", "--kb", str(store)])
    assert result.exit_code == 2 and "intent 'deny' has 1 examples" in result.output and "Traceback" not in result.output


def test_eval_intent_and_sentiment(tmp_path: Path) -> None:
    train = write(tmp_path / "train.csv", csv_of(INTENTS, slice(0, 9)))
    test = write(tmp_path / "test.csv", csv_of(INTENTS, slice(9, 12)))
    out, report = tmp_path / "intent.json", tmp_path / "report"
    result = CliRunner().invoke(main, ["eval", "intent", "--train", str(train), "--test", str(test), "--epochs", "6",
                                       "--json", str(out), "--report", str(report)])
    assert result.exit_code == 0, result.output
    figures = json.loads(out.read_text())
    for key in ("accuracy", "macro_f1", "in_scope_accuracy", "oos_recall", "oos_precision", "train_seconds", "p50_ms"):
        assert key in figures
    assert figures["n_test"] == 12 and 0 <= figures["accuracy"] <= 1
    assert (report / "confusion.png").stat().st_size > 1000 and (report / "per_label.csv").read_text().startswith("label,")

    sentiment_train = write(tmp_path / "s_train.csv", csv_of(SENTIMENT, slice(0, 10)))
    binary_test = write(tmp_path / "s_test.csv", "text,label\nthis is awful,negative\nlove it so much,positive\n")
    result = CliRunner().invoke(main, ["eval", "sentiment", "--train", str(sentiment_train), "--test", str(binary_test)])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output.strip().splitlines()[-1])
    assert figures["binary"] and figures["n_test"] == 2 and "accuracy" in figures
