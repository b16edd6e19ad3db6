"""Which store back-end the actions use: `SHOPBOT_STORE_DB` (a SQLite file) seeded from `SHOPBOT_ORDERS`
(default: the demo store's `orders.json`). Set once per process; tests and servers may install their own."""

from __future__ import annotations

import os
from pathlib import Path

from actions.store_backend import SqliteStoreBackend, StoreBackend

DEMO_ORDERS = Path(__file__).resolve().parents[1] / "knowledge_base" / "demo" / "orders.json"
_backend: StoreBackend | None = None


def get_backend() -> StoreBackend:
    """The process's store back-end (created on first use)."""
    global _backend
    if _backend is None:
        orders = Path(os.environ.get("SHOPBOT_ORDERS") or DEMO_ORDERS)
        _backend = SqliteStoreBackend.from_orders_file(orders, os.environ.get("SHOPBOT_STORE_DB") or ":memory:")
    return _backend


def set_backend(backend: StoreBackend | None) -> None:
    """Install a back-end (a store's own implementation of `StoreBackend`), or None to go back to the default."""
    global _backend
    _backend = backend
