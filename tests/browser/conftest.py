"""A live server in a background thread over the demo bot (with its trained NLU), and headless Chromium from
Debian (`/usr/bin/chromium`; never a browser a test tool downloads). Without chromium the browser tests skip,
unless SHOPBOT_REQUIRE_BROWSER=1 makes them fail."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web

from actions.services import set_recommender
from bot.app import StoreBot
from bot.config import ServerSettings, Settings
from bot.dialogue.domain import load_domain
from bot.dialogue.executor import InProcessExecutor
from bot.dialogue.store import ConversationStore
from bot.engine import Engine
from bot.config import DEMO_KB
from bot.responder.answerer import Answerer
from bot.responder.responder import Responder
from bot.server import create_app
from retrieval.recommend import Recommender

WEBCHAT = Path(__file__).parent / "node_modules" / "rasa-webchat" / "lib" / "index.js"


def chromium_path() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("SHOPBOT_REQUIRE_BROWSER") == "1":
            pytest.fail("Debian's chromium is required (SHOPBOT_REQUIRE_BROWSER=1): apt-get install chromium")
        pytest.skip("no chromium on this machine (apt-get install chromium)")
    return found


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    path = chromium_path()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=path, args=["--no-sandbox", "--headless=new"])
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def live_server(demo_store, demo_parser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The whole app on a free port, served from its own thread and event loop; yields the base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    recommender = Recommender(demo_store.products)
    set_recommender(recommender)
    answerer = Answerer(demo_store.index, Responder(None), demo_store.kb.name, 1, 0.35, catalog=demo_store.kb.product)
    store = ConversationStore(tmp_path_factory.mktemp("browser") / "conversations.db")
    settings = Settings(server=ServerSettings(agent_token="agent-key", port=port))
    started = threading.Event()
    loop = asyncio.new_event_loop()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        engine = Engine(load_domain(DEMO_KB / "domain.yml"), store, InProcessExecutor(), demo_parser, answerer,
                        recommender, store_name=demo_store.kb.name)
        runner = web.AppRunner(create_app(StoreBot(engine, demo_store, Responder(None), demo_parser), settings))
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
