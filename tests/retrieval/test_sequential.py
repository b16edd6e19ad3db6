"""Next-item recommendation, first step: the data format with clear errors, the baselines, the ranking metrics,
and `shopbot eval recommend` end to end."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from bot.cli import main
from retrieval.loaders import DataError
from retrieval.sequential.baselines import CoOccurrence, Popularity
from retrieval.sequential.data import RankingCase, load_cases, load_sequences
from retrieval.sequential.evaluation import evaluate, rank_of_true

# Shoes are followed by socks, tents by sleeping bags; item 9 is popular and follows nothing in particular.
TRAIN = {1: [10, 11, 12, 13, 9], 2: [10, 11, 12, 13, 9], 3: [20, 21, 9], 4: [20, 21], 5: [9, 9, 9]}


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_sequences_keep_file_order_and_bad_lines_name_file_line_and_field(tmp_path: Path) -> None:
    good = write(tmp_path / "train.txt", ["1 10", "2 20", "1 11", "", "1 9"])
    assert load_sequences(good) == {1: [10, 11, 9], 2: [20]}
    bad = write(tmp_path / "bad.txt", ["1 10", "1 x", "2 20 30", "3 4"])
    with pytest.raises(DataError) as error:
        load_sequences(bad)
    text = str(error.value)
    assert "bad.txt:2: field 'item': 'x' is not a whole number" in text
    assert "bad.txt:3:" in text and "2 problems" in text
    cases = write(tmp_path / "dev.txt", ["1 11 20 21", "2 5 x"])
    with pytest.raises(DataError, match="dev.txt:2: field 'negative 1'"):
        load_cases(cases)


def test_ties_give_the_true_item_no_credit() -> None:
    assert rank_of_true(np.array([3.0, 1.0, 2.0])) == 0
    assert rank_of_true(np.array([1.0, 1.0, 0.0])) == 1
    assert rank_of_true(np.array([0.0, 5.0, 5.0])) == 2


def test_co_occurrence_follows_the_shoppers_last_items_where_popularity_cannot() -> None:
    shoes_then = [RankingCase(6, 11, (21, 9)), RankingCase(7, 21, (11, 9))]
    histories = {6: [10], 7: [20]}
    popularity = evaluate(Popularity(TRAIN), histories, shoes_then, k=1)
    following = evaluate(CoOccurrence(TRAIN), histories, shoes_then, k=1)
    assert popularity["hr@1"] == 0.0  # item 9 is the most popular for everyone
    assert following["hr@1"] == 1.0 and following["mrr"] == 1.0
    # a shopper with no history falls back to popularity
    assert CoOccurrence(TRAIN).scores([], [11, 9]).argmax() == 1


def test_metrics_are_the_papers() -> None:
    class Fixed:
        name = "fixed"

        def scores(self, history, candidates):  # the true item (first) ranked third
            return np.array([1.0, 3.0, 2.0, 0.0])

    report = evaluate(Fixed(), {}, [RankingCase(1, 1, (2, 3, 4))], k=2)
    assert report["hr@2"] == 0.0 and report["mrr"] == pytest.approx(1 / 3, abs=1e-4)
    report = evaluate(Fixed(), {}, [RankingCase(1, 1, (2, 3, 4))], k=10)
    assert report["hr@10"] == 1.0 and report["ndcg@10"] == pytest.approx(1 / math.log2(4), abs=1e-4)


def test_eval_recommend_reports_each_model(tmp_path: Path) -> None:
    train = write(tmp_path / "train.txt", [f"{u} {i}" for u, items in TRAIN.items() for i in items])
    test = write(tmp_path / "dev.txt", ["6 11 21 9", "7 21 11 9"])
    out = tmp_path / "report.json"
    result = CliRunner().invoke(main, ["eval", "recommend", "--train", str(train), "--test", str(test),
                                       "--json", str(out), "--epochs", "2"])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert [m["model"] for m in report["models"]] == ["popularity", "co_occurrence", "sequential"]
    assert report["models"][2]["training"]["epochs_run"] == 2
    assert report["models"][1]["hr@10"] == 1.0 and report["n_users"] == 2
    bad = write(tmp_path / "broken.txt", ["6 eleven 21"])
    result = CliRunner().invoke(main, ["eval", "recommend", "--train", str(train), "--test", str(bad)])
    assert result.exit_code != 0 and "broken.txt:1: field 'true_item'" in result.output
    assert "Traceback" not in result.output


def test_the_sequential_model_learns_what_follows_what() -> None:
    """Chains (a, a+1, a+2, ...) of 50 items: after training, the true next item tops 10 random others."""
    from retrieval.sequential.model import SequentialConfig, train_sequential

    rng = random.Random(0)
    starts = [rng.randrange(50) for _ in range(300)]
    train = {u: [(s + k) % 50 + 1 for k in range(8)] for u, s in enumerate(starts)}
    model = train_sequential(train, 50, SequentialConfig(dim=32, epochs=15, negatives=20, batch_size=32,
                                                         max_length=10, dropout=0.1, decay="none",
                                                         item_bias="none", learning_rate=1e-3))
    assert model.metadata["losses"][-1] < model.metadata["losses"][0] / 3
    histories, cases = {}, []
    for user in range(40):
        start = rng.randrange(50)
        histories[user] = [(start + k) % 50 + 1 for k in range(5)]
        true = (start + 5) % 50 + 1
        cases.append(RankingCase(user, true, tuple([i for i in rng.sample(range(1, 51), 12) if i != true][:10])))
    assert evaluate(model, histories, cases, k=1)["hr@1"] >= 0.9
    assert evaluate(Popularity(train), histories, cases, k=1)["hr@1"] < 0.5
