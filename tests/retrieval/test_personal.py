"""The store's personal recommender: trained on a shopping history, cached by fingerprint, refusing a damaged copy,
and personalising the chat's product lists with reasons that name only the shopper's real interactions."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path

import pytest

from retrieval.recommend import Recommender
from retrieval.sequential.model import SequentialConfig
from retrieval.sequential.personal import (
    Interaction,
    PersonalRanker,
    RecommenderIntegrityError,
    load_personal,
    train_personal,
)

TINY = SequentialConfig(dim=16, layers=1, heads=1, max_length=8, epochs=25, negatives=0, batch_size=32,
                        learning_rate=5e-3, dropout=0.1)
PRODUCTS = ["tent", "bag", "pad", "stove", "shoe", "sock", "cap", "mug"]


def camping_and_running(shoppers: int = 120, seed: int = 3) -> dict[str, list[str]]:
    """Tent -> bag -> pad -> stove, and shoe -> sock -> cap: each shopper follows one path, with noise."""
    rng = random.Random(seed)
    paths = [["tent", "bag", "pad", "stove"], ["shoe", "sock", "cap"]]
    data = {}
    for n in range(shoppers):
        path = paths[n % 2]
        items = path[: rng.randint(2, len(path))]
        if rng.random() < 0.3:
            items.insert(rng.randint(0, len(items)), "mug")
        data[f"s{n}"] = items
    return data


def test_the_sequential_model_learns_what_follows_and_names_the_interaction_it_follows(tmp_path: Path) -> None:
    data = camping_and_running()
    folder, manifest, trained = train_personal(data, PRODUCTS, tmp_path, "camp", TINY)
    assert trained and manifest["products"] == len(PRODUCTS)
    ranker = load_personal(folder, data)
    assert ranker.name == "sequential"
    history = [Interaction("shoe", "product_viewed"), Interaction("tent", "purchased")]
    best = ranker.recommend(history, k=2, exclude=["tent", "shoe"])
    assert best[0].product_id == "bag"
    assert best[0].because == Interaction("tent", "purchased")  # the bag follows the tent, not the shoe
    runner = ranker.recommend([Interaction("shoe", "added_to_cart")], k=1, exclude=["shoe"])
    assert runner[0].product_id == "sock" and runner[0].because == Interaction("shoe", "added_to_cart")


def test_training_is_cached_by_fingerprint_and_a_damaged_copy_is_refused(tmp_path: Path) -> None:
    data = camping_and_running(40)
    quick = replace(TINY, epochs=1)
    folder, _, trained = train_personal(data, PRODUCTS, tmp_path, "camp", quick)
    assert trained
    again, _, trained_again = train_personal(data, PRODUCTS, tmp_path, "camp", quick)
    assert again == folder and not trained_again
    changed, _, retrained = train_personal({**data, "new": ["tent", "bag"]}, PRODUCTS, tmp_path, "camp", quick)
    assert changed != folder and retrained
    weights = folder / "sequential.pt"
    weights.write_bytes(weights.read_bytes()[:-8] + b"damaged!")
    with pytest.raises(RecommenderIntegrityError, match="train recommender --force"):
        load_personal(folder, data)
    repaired, _, trained_over = train_personal(data, PRODUCTS, tmp_path, "camp", quick)
    assert repaired == folder and trained_over
    assert json.loads((folder / "personal.json").read_text())["fingerprint"]


def test_without_a_model_co_occurrence_answers_and_a_stranger_gets_the_popular_ones() -> None:
    ranker = PersonalRanker(PRODUCTS, None, camping_and_running())
    assert ranker.name == "co-occurrence"
    assert ranker.recommend([Interaction("tent", "purchased")], k=1, exclude=["tent"])[0].product_id == "bag"
    popular = ranker.recommend([], k=1)[0]
    assert popular.because is None
    unknown = ranker.recommend([Interaction("not-a-product")], k=1)
    assert unknown[0].because is None  # an id the store does not have is never named


@pytest.fixture(scope="module")
def demo_recommender(demo_store) -> Recommender:
    """The demo store's recommender, personalised by co-occurrence over its history (no training needed)."""
    kb = demo_store.kb
    from retrieval.loaders.history import sequences

    return Recommender(demo_store.products, personal=PersonalRanker([p.id for p in kb.products], None,
                                                                    sequences(kb.history)))


def trail_browser(kb) -> list[Interaction]:
    trail = [p.id for p in kb.products if p.subcategory == "trail running shoes"][:3]
    return [Interaction(pid, "product_viewed") for pid in trail]


def test_a_shopper_who_browsed_trail_shoes_gets_personal_cards_with_reasons_naming_what_they_looked_at(
        demo_recommender: Recommender, demo_store) -> None:
    kb = demo_store.kb
    history = trail_browser(kb)
    looked_at = {kb.product(h.product_id).title for h in history}
    result = demo_recommender.recommend("what do you recommend for me?", history=history)
    assert result.cards and "personal" in result.notes
    for card in result.cards:
        assert card.reason.startswith("you looked at the ")
        assert card.reason.removeprefix("you looked at the ") in looked_at  # only real interactions are named
    assert kb.product(result.cards[0].id).category == "Running Shoes"
    anonymous = demo_recommender.recommend("what do you recommend for me?")
    assert "personal" not in anonymous.notes and all("you looked at" not in c.reason for c in anonymous.cards)


def test_goes_with_what_i_bought_picks_complements_and_never_what_was_bought(demo_recommender: Recommender,
                                                                            demo_store) -> None:
    kb = demo_store.kb
    tent = next(p for p in kb.products if p.category == "Camping & Tents" and "tent" in p.subcategory)
    history = [Interaction(tent.id, "purchased")]
    result = demo_recommender.recommend("something that goes with what I bought", history=history)
    partners = set(kb.categories[tent.category].goes_with)
    assert result.cards and all(kb.product(c.id).category in partners for c in result.cards)
    assert all(c.id != tent.id and c.reason == f"you bought the {tent.title}" for c in result.cards)
    nothing_bought = demo_recommender.recommend("something that goes with what I bought",
                                                history=trail_browser(kb))
    assert not nothing_bought.cards and "anything you've bought" in nothing_bought.lead


def test_a_request_for_a_kind_of_product_stays_that_kind_and_is_reranked_by_the_shopper(
        demo_recommender: Recommender, demo_store) -> None:
    kb = demo_store.kb
    history = trail_browser(kb)
    plain = demo_recommender.recommend("running shoes under $150")
    mine = demo_recommender.recommend("running shoes under $150", history=history)
    assert mine.cards and all(c.price < 150 for c in mine.cards)
    assert {kb.product(c.id).category for c in mine.cards} == {"Running Shoes"}
    assert [c.id for c in mine.cards] != [c.id for c in plain.cards] or any("you looked at" in c.reason
                                                                            for c in mine.cards)
    cheaper = demo_recommender.recommend("cheaper?", mine.state, history)
    assert all(c.price < min(x.price for x in mine.cards) for c in cheaper.cards)


def test_eval_recommend_on_a_store_scores_its_held_out_last_purchases(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from bot.cli import main
    from bot.config import DEMO_KB

    out = tmp_path / "store.json"
    result = CliRunner().invoke(main, ["eval", "recommend", "--kb", str(DEMO_KB), "--baselines-only",
                                       "--json", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["n_users"] > 1000 and [m["model"] for m in report["models"]] == ["popularity", "co_occurrence"]
    assert report["models"][1]["hr@10"] > report["models"][0]["hr@10"]
    mixed = CliRunner().invoke(main, ["eval", "recommend", "--kb", str(DEMO_KB), "--train", str(out)])
    assert mixed.exit_code == 2 and "--train and --test together, or --kb alone" in mixed.output
