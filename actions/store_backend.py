"""The store back-end the actions call: orders, identity checks, cancellations, address changes, returns.

`StoreBackend` is the small interface a store implements for its own systems; `SqliteStoreBackend` is the
demo's, a SQLite file seeded from `knowledge_base/demo/orders.json`. This module imports nothing from `bot/`,
so the actions run unchanged on a stock `python -m rasa_sdk` action server.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from collections.abc import Callable
from typing import Any, Protocol

CANCELLABLE = ("placed", "paid")        # not yet shipped
ADDRESS_CHANGEABLE = ("placed", "paid")
RETURNABLE = ("delivered",)


@dataclass(frozen=True)
class Outcome:
    """What a change did: `ok`, a machine-readable `reason` when it did not, and the order afterwards."""

    ok: bool
    reason: str = ""
    order: dict[str, Any] | None = None
    detail: dict[str, Any] | None = None


class StoreBackend(Protocol):
    """What the actions need from a store's systems."""

    def order(self, order_id: str) -> dict[str, Any] | None: ...
    def verify(self, order_id: str, email: str) -> bool: ...
    def cancel_order(self, order_id: str, now: datetime | None = None) -> Outcome: ...
    def change_address(self, order_id: str, address: dict[str, str]) -> Outcome: ...
    def start_return(self, order_id: str, now: datetime | None = None) -> Outcome: ...
    def open_return(self, order_id: str) -> dict[str, Any] | None: ...


class SqliteStoreBackend:
    """Orders and returns in one SQLite file (`:memory:` for a throw-away store); thread-safe."""

    def __init__(self, path: str | Path = ":memory:", return_window_days: int = 30, label_base_url: str = "",
                 clock: Callable[[], datetime] | None = None):
        """`clock` gives "now" for cancellations and return windows (a fixed date in tests and story runs)."""
        self.return_window = timedelta(days=return_window_days)
        self.clock = clock or (lambda: datetime.now().astimezone())
        self.label_base_url = label_base_url.rstrip("/") or "/returns/labels"
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        with self._db:
            self._db.execute("CREATE TABLE IF NOT EXISTS orders (id TEXT PRIMARY KEY, email TEXT NOT NULL, "
                             "status TEXT NOT NULL, data TEXT NOT NULL)")
            self._db.execute("CREATE TABLE IF NOT EXISTS returns (id TEXT PRIMARY KEY, order_id TEXT NOT NULL "
                             "REFERENCES orders(id), created_at TEXT NOT NULL, label_url TEXT NOT NULL)")

    @classmethod
    def from_orders_file(cls, orders_json: Path, path: str | Path = ":memory:", **options: Any) -> SqliteStoreBackend:
        """A back-end seeded with the orders of an `orders.json` (`{"orders": [...]}`); existing rows are kept."""
        backend = cls(path, **options)
        data = json.loads(Path(orders_json).read_text(encoding="utf-8"))
        with backend._lock, backend._db:
            backend._db.executemany("INSERT OR IGNORE INTO orders (id, email, status, data) VALUES (?, ?, ?, ?)",
                                    [(str(o["id"]), str(o["email"]).lower(), o["status"], json.dumps(o))
                                     for o in data["orders"]])
        return backend

    def order(self, order_id: str) -> dict[str, Any] | None:
        """The order as the store keeps it, or None."""
        row = self._db.execute("SELECT data FROM orders WHERE id = ?", (str(order_id).lstrip("#"),)).fetchone()
        return json.loads(row["data"]) if row else None

    def verify(self, order_id: str, email: str) -> bool:
        """True only when the order exists and the email is the one on it (case-insensitive)."""
        row = self._db.execute("SELECT email FROM orders WHERE id = ?", (str(order_id).lstrip("#"),)).fetchone()
        return row is not None and secrets.compare_digest(row["email"], str(email).strip().lower())

    def cancel_order(self, order_id: str, now: datetime | None = None) -> Outcome:
        """Cancel an order that has not shipped yet."""
        order = self.order(order_id)
        if order is None:
            return Outcome(False, "not_found")
        if order["status"] not in CANCELLABLE:
            return Outcome(False, f"status_{order['status']}", order)
        order.update(status="cancelled", cancelled_at=(now or self.clock()).isoformat(timespec="minutes"))
        return Outcome(True, order=self._save(order))

    def change_address(self, order_id: str, address: dict[str, str]) -> Outcome:
        """Replace the shipping address of an order that has not shipped yet."""
        order = self.order(order_id)
        if order is None:
            return Outcome(False, "not_found")
        if order["status"] not in ADDRESS_CHANGEABLE:
            return Outcome(False, f"status_{order['status']}", order)
        missing = [k for k in ("line1", "city", "postal_code", "country") if not str(address.get(k) or "").strip()]
        if missing:
            return Outcome(False, "address_incomplete", order, {"missing": missing})
        order["shipping_address"] = {k: str(v).strip() for k, v in address.items()}
        return Outcome(True, order=self._save(order))

    def start_return(self, order_id: str, now: datetime | None = None) -> Outcome:
        """Open a return for a delivered order inside the return window; gives a return id and a label link."""
        order = self.order(order_id)
        if order is None:
            return Outcome(False, "not_found")
        if order["status"] not in RETURNABLE or not order.get("delivered_at"):
            return Outcome(False, f"status_{order['status']}", order)
        existing = self.open_return(order["id"])
        if existing:
            return Outcome(True, "already_open", order, existing)
        now = now or self.clock()
        delivered = datetime.fromisoformat(order["delivered_at"])
        deadline = delivered + self.return_window
        if now > deadline:
            return Outcome(False, "window_closed", order, {"deadline": deadline.date().isoformat()})
        return_id = f"R{order['id']}-{secrets.token_hex(2).upper()}"
        label_url = f"{self.label_base_url}/{return_id}.pdf"
        with self._lock, self._db:
            self._db.execute("INSERT INTO returns (id, order_id, created_at, label_url) VALUES (?, ?, ?, ?)",
                             (return_id, order["id"], now.isoformat(timespec="minutes"), label_url))
        return Outcome(True, order=order, detail={"return_id": return_id, "label_url": label_url,
                                                  "deadline": deadline.date().isoformat()})

    def open_return(self, order_id: str) -> dict[str, Any] | None:
        """The return opened in chat for an order (`return_id`, `label_url`, `created_at`), or None."""
        row = self._db.execute("SELECT id, label_url, created_at FROM returns WHERE order_id = ?",
                               (str(order_id).lstrip("#"),)).fetchone()
        return {"return_id": row["id"], "label_url": row["label_url"], "created_at": row["created_at"]} if row else None

    def _save(self, order: dict[str, Any]) -> dict[str, Any]:
        with self._lock, self._db:
            self._db.execute("UPDATE orders SET status = ?, data = ? WHERE id = ?",
                             (order["status"], json.dumps(order), order["id"]))
        return order
