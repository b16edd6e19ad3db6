"""Shared fixtures. Nothing here downloads: the models come from installed packages. Model code (torch,
transformers, sentence-transformers, FAISS) loads inside the fixtures that need it, never at collection; the
helpers the tests share are in tests/support.py."""

from __future__ import annotations

import contextlib
import os
import sys

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import TYPE_CHECKING  # noqa: E402

import pytest  # noqa: E402

from tests.support import app_in_thread, free_port, test_cache_dir  # noqa: E402
from tests.support import write  # noqa: E402,F401  (tests/bot/test_config.py imports it from here)

if TYPE_CHECKING:
    from retrieval.embeddings import Embedder
    from retrieval.loaders import KnowledgeBase


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> None:
    """Before the first test, when a collected test needs the demo's trained NLU: reuse it by fingerprint (from the
    test cache or the project's, where `make run` trained it) or train it once, printing progress lines. Outside
    every test, so a long first training on a busy machine is not cut by a test's timeout."""
    if session.config.option.collectonly or not any("demo_parser" in getattr(item, "fixturenames", ())
                                                    for item in session.items):
        return
    from tests.support import prepare_demo_nlu

    capture = session.config.pluginmanager.getplugin("capturemanager")
    folder = test_cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    with capture.global_and_fixture_disabled() if capture is not None else contextlib.nullcontext():
        prepare_demo_nlu(folder, lambda line: print(line, file=sys.stderr, flush=True))


@pytest.fixture(scope="session", autouse=True)
def conversations_outside_the_repo(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Commands run by tests keep their conversations in a temporary folder, never in the checkout."""
    os.environ["SHOPBOT_DATA_DIR"] = str(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="session")
def embedder(tmp_path_factory: pytest.TempPathFactory) -> Embedder:
    """The packaged MiniLM on the product's default backend (ONNX Runtime), loaded once for the whole run."""
    from retrieval.embeddings import Embedder

    model = Embedder(onnx_cache=tmp_path_factory.mktemp("models"))
    model.warm_up()
    return model


@pytest.fixture(scope="session")
def demo_kb() -> KnowledgeBase:
    from bot.config import DEMO_KB
    from retrieval.loaders import load_knowledge_base

    return load_knowledge_base(DEMO_KB)


@pytest.fixture(scope="session")
def demo_cache_dir() -> Path:
    """The cache shared by the tests that open the demo store: its index and trained NLU are kept by data
    fingerprint in `.shopbot_cache/tests` (or `SHOPBOT_TEST_CACHE`), so they are built once per machine, not
    once per run; a change to the demo data or the training code makes a new fingerprint."""
    folder = test_cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def demo_store(demo_cache_dir: Path, embedder: Embedder):
    """The demo store, its index built once per machine into the shared test cache."""
    from bot.config import load_settings
    from bot.knowledge import open_store

    return open_store(load_settings(cache_dir=demo_cache_dir), embedder=embedder)


@pytest.fixture(scope="session")
def demo_parser(demo_store, demo_cache_dir: Path):
    """The demo store's NLU from the shared test cache: trained (about 2.5 minutes on 2 cores), or copied from the
    project cache by fingerprint, before the first test (`pytest_runtestloop`); here it is found by fingerprint."""
    from bot.nlu.pipeline import load_store_parser, train_store_nlu

    folder, _, _ = train_store_nlu(demo_store.kb, demo_cache_dir)
    return load_store_parser(demo_store.kb, folder)


@pytest.fixture(scope="session")
def live_server(demo_store, demo_parser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The whole app (demo store, trained NLU, extractive replies) on a free port, served from its own thread and
    event loop; yields the base URL. The agent token is `agent-key`."""
    from actions.services import set_recommender
    from bot.app import build_bot
    from bot.config import ServerSettings, Settings
    from bot.dialogue.store import ConversationStore
    from bot.responder.responder import Responder
    from bot.server import create_app

    port = free_port()
    store = ConversationStore(tmp_path_factory.mktemp("browser") / "conversations.db")
    settings = Settings(server=ServerSettings(agent_token="agent-key", port=port))

    def make_app():
        return create_app(build_bot(settings, demo_store, Responder(None), demo_parser, store), settings)

    with app_in_thread(make_app, port) as url:
        yield url
    set_recommender(None)
