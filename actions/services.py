"""The services the actions call, set once per process: the store back-end, the store's policy, the verification
ledger and the product recommender.

Defaults work on a stock `python -m rasa_sdk --actions actions` server configured like the bot: the same `SHOPBOT_*`
variables and YAML file (`SHOPBOT_CONFIG`, else `./shopbot.yml`), read through `actions.settings.ActionSettings`:
- the store is `kb_dir` (`SHOPBOT_KB`, default: the demo store);
- the back-end serves only that store's orders: `order_backend.orders_file` (`SHOPBOT_ORDERS`) when set, else
  `orders.json` in the store's folder, in a SQLite copy (`order_backend.database`, `SHOPBOT_STORE_DB`, default in
  memory), with `order_backend.today` (`SHOPBOT_TODAY`) as a fixed date. A store without orders has no back-end
  (None): the order actions then say they cannot look orders up and offer a person;
- the policy (return window, refund timing) comes from the store's `store.yml`;
- the ledger of failed checks is Redis when `dialogue.redis_url` (`SHOPBOT_REDIS_URL`) is set, else the SQLite file
  `guard.database` (`SHOPBOT_GUARD_DB`, default `verification.db` in `data_dir`);
- the recommender opens the store with `retrieval.store.open_store`, as the bot does: the same embedder (FAQ-tuned,
  ONNX Runtime), retrieval settings and index folder, so it finds the bot's index and ranks as the bot does.
Settings are read when a service is first needed (so a changed environment counts after `set_backend(None)`).
The in-process engine installs what it has already loaded (`install_store`, `set_recommender`), and a store installs
its own `StoreBackend` with `set_backend`.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from actions.ledger import RedisLedger, SqliteLedger, StrikeLedger
from actions.settings import ActionSettings
from actions.store_backend import SqliteStoreBackend, StoreBackend
from actions.store_policy import StorePolicy, load_store_policy
from retrieval.recommend import Recommender
from retrieval.store import DEMO_KB, PROJECT_ROOT

__all__ = ["DEMO_KB", "PROJECT_ROOT", "action_settings", "get_backend", "get_ledger", "get_policy",
           "get_recommender", "install_store", "installed_recommender", "ledger_defaults", "open_backend", "open_ledger", "orders_file",
           "set_backend", "set_ledger", "set_policy", "set_recommender", "store_dir"]
log = logging.getLogger("shopbot.actions")
_UNSET: Any = object()
_backend: Any = _UNSET            # a StoreBackend, None (the store has no orders), or not decided yet
_policy: StorePolicy | None = None
_ledger: StrikeLedger | None = None
_ledger_defaults: dict[str, Any] = {}
_recommender: Recommender | None = None
_lock = threading.RLock()


def action_settings() -> ActionSettings:
    """The settings the default services follow: `SHOPBOT_*` and the YAML file, read now."""
    return ActionSettings.load()


def store_dir() -> Path:
    """The folder of the store being served (`kb_dir`, `SHOPBOT_KB`; default the demo's)."""
    return action_settings().kb_dir


def orders_file(kb_dir: Path, settings: ActionSettings | None = None) -> Path | None:
    """The store's orders: `order_backend.orders_file` (`SHOPBOT_ORDERS`) when set, else `orders.json` in its
    folder; None when it has none."""
    named = (settings or action_settings()).order_backend.orders_file
    path = named or Path(kb_dir) / "orders.json"
    if path.is_file():
        return path
    if named:
        log.warning("order_backend.orders_file (SHOPBOT_ORDERS) %s is not a file: no order look-ups", named)
    return None


def open_backend(kb_dir: Path, policy: StorePolicy | None = None,
                 settings: ActionSettings | None = None) -> StoreBackend | None:
    """The demo back-end over the store's own orders, or None when the store has no orders file."""
    options = (settings or action_settings()).order_backend
    orders = orders_file(kb_dir, settings)
    if orders is None:
        return None
    today = options.today  # a fixed "now" (ISO date or time) for reproducible demos
    clock = (lambda: datetime.fromisoformat(today).astimezone()) if today else None
    window = (policy or load_store_policy(kb_dir)).return_window_days
    return SqliteStoreBackend.from_orders_file(orders, options.database or ":memory:", return_window_days=window,
                                               clock=clock)


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


def install_store(kb_dir: Path, settings: ActionSettings | None = None, replace: bool = True) -> StoreBackend | None:
    """Serve the store in `kb_dir`: its policy and its own orders (None, and no order look-ups, when it has none),
    the demo back-end opened as `settings` say (default: `SHOPBOT_*` and the YAML file). `replace=False` keeps a
    back-end already installed (a store's own, or a test's)."""
    global _backend, _policy
    with _lock:
        if replace or _backend is _UNSET:
            _policy = load_store_policy(kb_dir)
            _backend = open_backend(kb_dir, _policy, settings)
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


def open_ledger(data_dir: Path | None = None, redis_url: str | None = None,
                database: str | None = None) -> StrikeLedger:
    """Redis when `redis_url` (else `dialogue.redis_url`, `SHOPBOT_REDIS_URL`) is set, else the SQLite file
    `database` (else `guard.database`, `SHOPBOT_GUARD_DB`), default `verification.db` in `data_dir` (else the
    settings' `data_dir`, `SHOPBOT_DATA_DIR`, default `.shopbot_data`)."""
    settings = action_settings()
    url = redis_url or settings.dialogue.redis_url
    if url:
        return RedisLedger(url, secret=settings.guard.secret)
    path = database or settings.guard.database or str(Path(data_dir or settings.data_dir) / "verification.db")
    return SqliteLedger(path, secret=settings.guard.secret)


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


def ledger_defaults(data_dir: Path | None = None, redis_url: str | None = None, database: str | None = None) -> None:
    """Where the default ledger lives (the engine's own settings); a ledger already installed with `set_ledger` is
    kept."""
    with _lock:
        _ledger_defaults.clear()
        _ledger_defaults.update(data_dir=data_dir, redis_url=redis_url or None, database=database or None)


def get_recommender() -> Recommender:
    """The process's product recommender (on first use: the store the settings name, opened by
    `retrieval.store.open_recommender` exactly as the bot opens it, its index found in or built into `cache_dir`)."""
    global _recommender
    with _lock:
        if _recommender is None:
            from retrieval.store import open_recommender

            _recommender = open_recommender(action_settings())
        return _recommender


def installed_recommender() -> Recommender | None:
    """The recommender installed (or opened) so far, without opening one: None when there is none yet."""
    with _lock:
        return _recommender


def set_recommender(recommender: Recommender | None) -> None:
    """Install the recommender the engine already loaded (in-process actions), or None for the default."""
    global _recommender
    with _lock:
        _recommender = recommender
