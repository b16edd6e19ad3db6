"""A stock rasa-sdk action server (`python -m rasa_sdk --actions actions`) searches exactly as the in-process bot:
both open the store's retrieval through `retrieval.store` from one settings file, find one index and rank
products the same (same cards in the same order).

Before, the action server opened its own index (its own folder, no FAQ tuning, PyTorch, default retrieval
settings): `test_the_settings_change_the_ranking` shows these queries rank differently under default retrieval
settings, so a server that ignored the file would fail here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import ActionServer, write

pytestmark = pytest.mark.slow

QUERIES = [
    "waterproof rain jacket",
    "trail running shoes under $120",
    "do you have a warmer winter boot under $200 in size 8?",
    "black backpack for day hikes",
    "a warm sleeping bag in stock",
    "lightweight tent for two people",
    "something similar to the Tern Road Runner 3",
    "kids hiking shoes",
    "gift for a hiker",
    "waterproof hiking boots for women",
]
FOLLOW_UPS = [("hiking boots", "cheaper?"), ("running shoes", "in black?"), ("rain jacket", "any from Kestrel?")]
DOMAIN: dict[str, Any] = {"slots": {}, "forms": {}}


def tracker(text: str, state: dict[str, Any] | None = None) -> dict[str, Any]:
    """The tracker the engine sends with a shopper's product request (the last list in `product_state`)."""
    return {"sender_id": "websocket:search-test", "slots": {"product_state": state, "product": None},
            "latest_message": {"text": text, "intent": {"name": "product_search", "confidence": 1.0},
                               "entities": []},
            "events": [], "paused": False, "followup_action": None, "active_loop": {},
            "latest_action_name": "action_listen"}


@pytest.fixture(scope="module")
def settings_file(tmp_path_factory: pytest.TempPathFactory, demo_cache_dir: Path) -> Path:
    """One file for both sides. Not the defaults where both must read it: fewer fusion candidates and another RRF
    constant (search-time knobs: the index stays the one the other tests use). FAQ tuning off: the shared test
    cache holds no tuned model, and tuning takes about 100 s on 2 cores."""
    return write(tmp_path_factory.mktemp("search-settings") / "shopbot.yml",
                 f"cache_dir: {demo_cache_dir}\nfinetune: {{enabled: false}}\n"
                 "retrieval: {rrf_k: 1, candidates: 4}\n")


@pytest.fixture(scope="module")
def in_process(settings_file: Path) -> Iterator[Any]:
    """The bot's own stack, in this process: the store opened from the file, `build_bot` with in-process actions."""
    from actions.services import set_recommender
    from bot.app import build_bot
    from bot.config import load_settings
    from bot.dialogue.executor import InProcessExecutor
    from bot.dialogue.store import ConversationStore
    from bot.knowledge import open_store
    from bot.responder.responder import Responder

    settings = load_settings(settings_file)
    knowledge = open_store(settings)
    executor = InProcessExecutor()
    build_bot(settings, knowledge, Responder(None), None, ConversationStore(), executor)
    yield settings, knowledge, executor
    set_recommender(None)


@pytest.fixture(scope="module")
def index_before(in_process: Any) -> tuple[Path, int, list[str]]:
    """The bot's index folder, its manifest's modification time and the cache's index folders, before the action
    server starts."""
    from retrieval.index import MANIFEST
    from retrieval.store import index_folder

    settings, knowledge, _ = in_process
    folder = index_folder(settings, knowledge.kb)
    return folder, (folder / MANIFEST).stat().st_mtime_ns, sorted(p.name for p in folder.parent.iterdir())


@pytest.fixture(scope="module")
def action_server(index_before: Any, settings_file: Path, tmp_path_factory: pytest.TempPathFactory
                  ) -> Iterator[ActionServer]:
    """A stock action server told only where the bot's settings file is (`SHOPBOT_CONFIG`)."""
    with ActionServer(tmp_path_factory.mktemp("search-actions"), env={"SHOPBOT_CONFIG": str(settings_file)}) as server:
        yield server


def recommend(executor: Any, text: str, state: dict[str, Any] | None = None) -> dict[str, Any]:
    """`action_recommend_products` through `executor`: its lead, its cards and the list state it keeps."""
    async def run() -> Any:
        try:
            return await executor.run("action_recommend_products", tracker(text, state), DOMAIN)
        finally:
            await executor.close()

    result = asyncio.run(run())
    [response] = result.responses
    slots = {e["name"]: e["value"] for e in result.events if e.get("event") == "slot"}
    return {"lead": response.get("text"), "cards": (response.get("custom") or {}).get("cards"),
            "state": slots.get("product_state")}


def remote(server: ActionServer) -> Any:
    from bot.dialogue.executor import RemoteExecutor

    # the server opens the store on its first product action (models and index load then): a generous deadline
    return RemoteExecutor(server.url, timeout_s=300, attempts=1)


@pytest.mark.parametrize("query", QUERIES)
def test_the_action_server_ranks_products_as_the_bot_does(query: str, in_process: Any,
                                                          action_server: ActionServer) -> None:
    _, _, local = in_process
    mine, theirs = recommend(local, query), recommend(remote(action_server), query)
    assert mine["cards"], f"no products for {query!r}: the comparison would prove nothing"
    assert [c["id"] for c in theirs["cards"]] == [c["id"] for c in mine["cards"]]
    assert theirs == mine   # the same cards (titles, prices, links, reasons), lead and list state


@pytest.mark.parametrize(("first", "follow_up"), FOLLOW_UPS)
def test_follow_up_filters_refine_the_same_list_on_both(first: str, follow_up: str, in_process: Any,
                                                        action_server: ActionServer) -> None:
    _, _, local = in_process
    mine = recommend(local, first)
    theirs = recommend(remote(action_server), first)
    assert theirs == mine
    refined_mine = recommend(local, follow_up, mine["state"])
    refined_theirs = recommend(remote(action_server), follow_up, theirs["state"])
    assert [c["id"] for c in refined_theirs["cards"]] == [c["id"] for c in refined_mine["cards"]]
    assert refined_theirs == refined_mine


def test_the_settings_change_the_ranking(in_process: Any) -> None:
    """The file's retrieval settings rank these queries differently from the defaults: a server that ignored
    the file (as the old one did) would fail the comparisons above."""
    from retrieval.index import RetrievalConfig

    settings, knowledge, _ = in_process
    configured = [[hit.product.id for hit in knowledge.products.search(q, 4).hits] for q in QUERIES]
    chosen = knowledge.index.config
    try:
        knowledge.index.config = RetrievalConfig()
        default = [[hit.product.id for hit in knowledge.products.search(q, 4).hits] for q in QUERIES]
    finally:
        knowledge.index.config = chosen
    assert settings.retrieval.to_config() == chosen != RetrievalConfig()
    assert sum(mine != theirs for mine, theirs in zip(configured, default)) >= 3


def test_both_found_one_index(index_before: Any, action_server: ActionServer) -> None:
    """Runs after the searches above: the action server loaded the bot's index (same folder, same fingerprint)
    instead of building its own."""
    from retrieval.index import MANIFEST

    folder, modified, folders = index_before
    recommend(remote(action_server), "hiking boots")   # the store is open on the server
    assert (folder / MANIFEST).stat().st_mtime_ns == modified
    assert sorted(p.name for p in folder.parent.iterdir()) == folders
    log = action_server.log.read_text(errors="replace")
    assert "rebuilding" not in log and "Tuning the embedder" not in log
