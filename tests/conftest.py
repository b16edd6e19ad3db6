"""Shared fixtures. Nothing here downloads: the models come from installed packages."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from bot.config import DEMO_KB, load_settings  # noqa: E402
from retrieval.embeddings import Embedder  # noqa: E402
from retrieval.loaders import KnowledgeBase, load_knowledge_base  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def conversations_outside_the_repo(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Commands run by tests keep their conversations in a temporary folder, never in the checkout."""
    os.environ["SHOPBOT_DATA_DIR"] = str(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="session")
def embedder(tmp_path_factory: pytest.TempPathFactory) -> Embedder:
    """The packaged MiniLM on the product's default backend (ONNX Runtime), loaded once for the whole run."""
    model = Embedder(onnx_cache=tmp_path_factory.mktemp("models"))
    model.warm_up()
    return model


@pytest.fixture(scope="session")
def demo_kb() -> KnowledgeBase:
    return load_knowledge_base(DEMO_KB)


@pytest.fixture(scope="session")
def demo_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache folder shared by the tests that open the demo store (its index is built once)."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="session")
def demo_store(demo_cache_dir: Path, embedder: Embedder):
    """The demo store with its index built once into a temporary cache."""
    from bot.knowledge import open_store

    return open_store(load_settings(cache_dir=demo_cache_dir), embedder=embedder)


@pytest.fixture(scope="session")
def demo_parser(demo_store, demo_cache_dir: Path):
    """The demo store's NLU, trained once into the shared test cache (about 2.5 minutes on 2 cores)."""
    from bot.nlu.pipeline import load_store_parser, train_store_nlu

    folder, _, _ = train_store_nlu(demo_store.kb, demo_cache_dir)
    return load_store_parser(demo_store.kb, folder)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
