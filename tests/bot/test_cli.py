"""The `shopbot` command line, run for real (console script and click's runner)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from tests.support import write

FAQ_CSV = """id,question,answer
refund-timing,How long do refunds take?,Refunds are processed within 3 business days of receiving the return.
shipping-cost,How much does shipping cost?,Standard shipping is $5.95 and free on orders of $75 or more.
password-reset,How do I reset my password?,Click Forgot password on the sign-in page; the link works for 60 minutes.
gift-wrap,Do you offer gift wrapping?,"Yes, gift wrap is $4.95 per order."
intl,Do you ship internationally?,We ship to 13 countries with DHL Express in 7-14 business days.
"""
QUERIES_CSV = """query,faq_id
when do i get my money back,refund-timing
whats the delivery fee,shipping-cost
forgot my pasword,password-reset
can you wrap a present for me,gift-wrap
do u ship to germany,intl
"""


@pytest.fixture()
def runner(demo_cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("SHOPBOT_CACHE_DIR", str(demo_cache_dir))
    # Tuning MiniLM on the whole demo FAQ takes minutes on CI; tests/retrieval/test_finetune.py trains for real
    # on a small FAQ, and the benchmark runs the tuned default.
    monkeypatch.setenv("SHOPBOT_FINETUNE", "false")
    return CliRunner()


def test_help_lists_every_subcommand() -> None:
    shopbot = Path(sys.executable).with_name("shopbot")
    result = subprocess.run([str(shopbot), "--help"], capture_output=True, text=True, check=True)
    for command in ("chat", "eval", "index", "products", "search", "validate"):
        assert f"  {command} " in result.stdout
    result = subprocess.run([str(shopbot), "eval", "--help"], capture_output=True, text=True, check=True)
    assert "retrieval" in result.stdout


def test_validate_demo_store(runner: CliRunner) -> None:
    result = runner.invoke(main, ["validate"])
    assert result.exit_code == 0 and "OK" in result.output and "products" in result.output


def test_validate_reports_bad_files_without_traceback(runner: CliRunner, tmp_path: Path) -> None:
    write(tmp_path / "catalog.csv", "id,title,price\nA,Hat,12\nB,Scarf,cheap\n")
    write(tmp_path / "faq.csv", "id,question,answer\nx,Where?,\n")
    result = runner.invoke(main, ["validate", "--kb", str(tmp_path)])
    assert result.exit_code == 2
    assert f"{tmp_path / 'catalog.csv'}:3: field 'price'" in result.output
    assert f"{tmp_path / 'faq.csv'}:2: field 'answer': missing required value" in result.output
    assert "Traceback" not in result.output


def test_eval_retrieval_on_an_external_faq(runner: CliRunner, tmp_path: Path) -> None:
    faq = write(tmp_path / "faq.csv", FAQ_CSV)
    queries = write(tmp_path / "queries.csv", QUERIES_CSV)
    out = tmp_path / "out" / "report.json"
    result = runner.invoke(main, ["eval", "retrieval", "--faq", str(faq), "--queries", str(queries), "--json", str(out)])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout.strip().splitlines()[-1])
    saved = json.loads(out.read_text())
    assert set(printed) == {"hit@1", "hit@5", "mrr", "n_queries", "p50_ms"}
    assert printed["n_queries"] == 5 and saved["n_faq"] == 5
    assert printed["hit@5"] == 1.0 and printed["hit@1"] >= 0.8 and printed["mrr"] >= printed["hit@1"]
    assert {k: saved[k] for k in printed} == printed


def test_eval_retrieval_rejects_unknown_faq_ids(runner: CliRunner, tmp_path: Path) -> None:
    faq = write(tmp_path / "faq.csv", FAQ_CSV)
    queries = write(tmp_path / "queries.csv", "query,faq_id\nhello,refund-timing\nbye,nope\n")
    result = runner.invoke(main, ["eval", "retrieval", "--faq", str(faq), "--queries", str(queries)])
    assert result.exit_code == 2 and f"{queries}:3: field 'faq_id': unknown FAQ id 'nope'" in result.output


def test_chat_runs_orders_answers_and_products(runner: CliRunner, demo_parser, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPBOT_RESPONDER_MODE", "extractive")  # the LM path is tested in tests/bot/responder
    monkeypatch.setenv("SHOPBOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SHOPBOT_TODAY", "2026-11-23T12:00:00-05:00")
    conversation = ("where is my order?\n10445\navery_singh86@example.org\nHow long do refunds take?\n"
                    "running shoes under $150\ncheaper?\nwhat goes with the Moonrise 2 Tent\n"
                    "what's the weather in Paris\n/debug\ntalk to a human\n/quit\n")
    result = runner.invoke(main, ["chat", "--sender", "cli-test"], input=conversation)
    assert result.exit_code == 0, result.output
    assert "What's your order number?" in result.output and "Order 10445 shipped with DHL" in result.output
    assert "[source: faq:refund-timing]" in result.output
    assert "Here are some options (under $150, Running Shoes), from $" in result.output
    first, cheaper = result.output.split("you> cheaper?")
    shown = [float(m) for m in re.findall(r"(\d+\.\d\d) USD", first)]
    again = [float(m) for m in re.findall(r"(\d+\.\d\d) USD", cheaper.split("you> what goes")[0])]
    assert shown and again and max(again) < min(shown)
    assert "Here are some other options (under $" in cheaper
    assert "These go well with the Moonrise 2 Tent." in result.output
    assert "Sorry, I can't help with that." in result.output
    assert "· intent: human_handoff" in result.output and "[handed to a person]" in result.output
    assert (tmp_path / "data" / "conversations.db").is_file()
    assert result.output.rstrip().endswith("bye")


def test_search_and_products_commands(runner: CliRunner) -> None:
    result = runner.invoke(main, ["search", "reset my password", "--kind", "faq", "-k", "3"])
    assert result.exit_code == 0 and "faq:password-reset" in result.output
    result = runner.invoke(main, ["products", "tents under $250", "-k", "3"])
    assert result.exit_code == 0 and "filters: under $250, Camping & Tents" in result.output


def test_eval_answers_writes_replies_and_scores(runner: CliRunner, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPBOT_RESPONDER_MODE", "extractive")
    faq = write(tmp_path / "faq.csv", FAQ_CSV)
    queries = write(tmp_path / "queries.csv", QUERIES_CSV)
    out, replies = tmp_path / "answers.json", tmp_path / "replies.jsonl"
    result = runner.invoke(main, ["eval", "answers", "--faq", str(faq), "--queries", str(queries), "--json", str(out),
                                  "--replies", str(replies)])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout.strip().splitlines()[-1])
    assert printed["n_queries"] == 5 and printed["source_hit@1"] >= 0.8 and printed["ungrounded_facts"] == 0
    assert printed["answer_f1"] >= 0.8  # extractive replies are the FAQ's own words when the source is right
    lines = [json.loads(line) for line in replies.read_text().splitlines()]
    assert [line["query"] for line in lines] == [q.split(",")[0] for q in QUERIES_CSV.splitlines()[1:]]
    assert all({"query", "reply", "sources"} <= set(line) for line in lines)
    assert lines[0]["sources"][0] == "faq:refund-timing" and "3 business days" in lines[0]["reply"]
    saved = json.loads(out.read_text())
    assert {k: saved[k] for k in printed} == printed and saved["mode"] == "extractive"


def test_chat_against_a_running_server(runner: CliRunner, live_server: str) -> None:
    conversation = "where is my order?\n10445\navery_singh86@example.org\n/debug\ndo you ship to Canada?\n/quit\n"
    result = runner.invoke(main, ["chat", "--url", live_server], input=conversation)
    assert result.exit_code == 0, result.output
    assert "What's your order number?" in result.output and "Order 10445 shipped with DHL" in result.output
    assert "· session:" in result.output and "Canada" in result.output and "[source: faq:" in result.output
