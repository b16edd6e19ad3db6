"""Shared fixtures. Nothing here downloads: the models come from installed packages."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from pathlib import Path  # noqa: E402

import asyncio  # noqa: E402
import threading  # noqa: E402
from collections.abc import Iterator  # noqa: E402

import pytest  # noqa: E402
from aiohttp import web  # noqa: E402

from bot.config import DEMO_KB, ServerSettings, Settings, load_settings  # noqa: E402
from retrieval.embeddings import Embedder  # noqa: E402
from retrieval.loaders import KnowledgeBase, load_knowledge_base  # noqa: E402
from tests.support import free_port, test_cache_dir  # noqa: E402


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
def demo_cache_dir() -> Path:
    """The cache shared by the tests that open the demo store: its index and trained NLU are kept by data
    fingerprint in `.shopbot_cache/tests` (or `SHOPBOT_TEST_CACHE`), so they are built once per machine, not
    once per run; a change to the demo data or the training code makes a new fingerprint."""
    folder = test_cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


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


@pytest.fixture(scope="session")
def live_server(demo_store, demo_parser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The whole app (demo store, trained NLU, extractive replies) on a free port, served from its own thread and
    event loop; yields the base URL. The agent token is `agent-key`."""
    from actions.services import set_recommender
    from bot.app import build_bot
    from bot.dialogue.store import ConversationStore
    from bot.responder.responder import Responder
    from bot.server import create_app

    port = free_port()
    store = ConversationStore(tmp_path_factory.mktemp("browser") / "conversations.db")
    settings = Settings(server=ServerSettings(agent_token="agent-key", port=port))
    started = threading.Event()
    loop = asyncio.new_event_loop()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        bot = build_bot(settings, demo_store, Responder(None), demo_parser, store)
        runner = web.AppRunner(create_app(bot, settings))
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
        started.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert started.wait(60), "the server did not start"
    yield f"http://127.0.0.1:{port}"
    loop.call_soon_threadsafe(loop.stop)
    thread.join(30)
    set_recommender(None)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
