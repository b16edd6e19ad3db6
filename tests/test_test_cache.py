"""The test cache reuses a model trained elsewhere (the project cache `make run` trains into) by data fingerprint,
instead of training the demo NLU again; a damaged or different model is never copied."""

from __future__ import annotations

from pathlib import Path

from bot.nlu.pipeline import train_store_nlu
from retrieval.loaders import load_knowledge_base
from tests.bot.nlu.test_training import INTENTS, make_store, small_config
from tests.corruption import flip_bytes
from tests.support import reuse_trained_nlu


def test_a_model_trained_in_the_project_cache_is_reused_not_trained_again(tmp_path: Path) -> None:
    kb = load_knowledge_base(make_store(tmp_path / "store"))
    project = tmp_path / "project-cache"
    trained, _, was_trained = train_store_nlu(kb, project, small_config())
    assert was_trained
    assert reuse_trained_nlu(kb, tmp_path / "empty", [tmp_path / "nowhere"], small_config()) is None

    tests_cache = tmp_path / "tests-cache"
    folder = reuse_trained_nlu(kb, tests_cache, [project], small_config())
    assert folder == tests_cache / "nlu" / trained.name and (folder / "metadata.json").is_file()
    again, _, was_trained = train_store_nlu(kb, tests_cache, small_config())
    assert again == folder and not was_trained          # found by fingerprint: no training

    changed = load_knowledge_base(make_store(tmp_path / "changed" / "store", {**INTENTS, "greet": INTENTS["greet"][:-1]}))
    assert reuse_trained_nlu(changed, tmp_path / "other", [project], small_config()) is None  # other data

    flip_bytes(trained / "heads.pt", 20)
    assert reuse_trained_nlu(kb, tmp_path / "third", [project], small_config()) is None      # damaged: not copied
