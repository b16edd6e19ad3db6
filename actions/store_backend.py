"""The store back-end the actions call: orders, identity checks, cancellations, address changes, returns.

`StoreBackend` is the small interface a store implements for its own systems; `SqliteStoreBackend` is the
demo's, a SQLite file seeded from an `orders.json`. This module imports nothing from `bot/`, so the actions run
unchanged on a stock `python -m rasa_sdk` action server.

Identity checks never raise and take the same steps whether or not the order exists (fixed-length digests compared
in constant time, against a dummy when there is no such order), so neither an answer nor an error tells a guesser
which order numbers exist. Changes take an `idempotency_key`: a call repeated with the same key (an action server
retry) returns the first call's `Outcome` and changes nothing again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import sqlite3
import threading
import unicodedata
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from actions.sqlite_transactions import immediate_transaction
from actions.order_records import load_orders

CANCELLABLE = ("placed", "paid")        # not yet shipped
ADDRESS_CHANGEABLE = ("placed", "paid")
RETURNABLE = ("delivered",)
MAX_INPUT_CHARS = 1024                  # longer input is never an email or an order id on file
_DUMMY_DIGEST = hashlib.sha256(b"\xff no such order").digest()


def canonical_text(value: Any) -> str:
    """NFKC, case-folded, trimmed: "ＪØHN@Example.com " and "jøhn@example.com" are the same. Never raises."""
    text = value if isinstance(value, str) else str(value if value is not None else "")
    return unicodedata.normalize("NFKC", text[:MAX_INPUT_CHARS]).casefold().strip()


def text_digest(value: Any) -> bytes:
    """A fixed-length digest of the canonical text (lone surrogates included; over-long input gets a digest no
    stored value can have)."""
    text = value if isinstance(value, str) else str(value if value is not None else "")
    marker = b"\xfe" if len(text) > MAX_INPUT_CHARS else b""  # 0xfe never occurs in UTF-8
    return hashlib.sha256(marker + canonical_text(text).encode("utf-8", "surrogatepass")).digest()


def order_key(order_id: Any) -> str:
    """The id an order is stored under ("#10445", "１０４４５" -> "10445"); "" for anything that cannot be one."""
    text = canonical_text(order_id).lstrip("#").strip()
    return text if text.isascii() and text.isdigit() and len(text) <= 32 else ""


@dataclass(frozen=True)
class Outcome:
    """What a change did: `ok`, a machine-readable `reason` when it did not, and the order afterwards."""

    ok: bool
    reason: str = ""
    order: dict[str, Any] | None = None
    detail: dict[str, Any] | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Outcome:
        return cls(**json.loads(text))


class StoreBackend(Protocol):
    """What the actions need from a store's systems.

    `verify` must never raise and must not take a different path for a missing order. The changes take an optional
    `idempotency_key`: a repeated key must return the recorded `Outcome` without doing anything again (the actions
    derive it from the conversation, the action, the order and the shopper's message, so a retried call repeats
    the key).
    """

    def order(self, order_id: str) -> dict[str, Any] | None: ...
    def verify(self, order_id: str, email: str) -> bool: ...
    def cancel_order(self, order_id: str, now: datetime | None = None,
                     idempotency_key: str | None = None) -> Outcome: ...
    def change_address(self, order_id: str, address: dict[str, str],
                       idempotency_key: str | None = None) -> Outcome: ...
    def start_return(self, order_id: str, now: datetime | None = None,
                     idempotency_key: str | None = None) -> Outcome: ...
    def open_return(self, order_id: str) -> dict[str, Any] | None: ...


class SqliteStoreBackend:
    """Orders and returns in one SQLite file (`:memory:` for a throw-away store); thread-safe, and a file may be
    shared by several processes (WAL, each change one immediate transaction)."""

    def __init__(self, path: str | Path = ":memory:", return_window_days: int | None = 30, label_base_url: str = "",
                 clock: Callable[[], datetime] | None = None):
        """`clock` gives "now" for cancellations and return windows (a fixed date in tests and story runs);
        `return_window_days` None means the store has not said, and no return is opened in chat."""
        self.return_window = timedelta(days=return_window_days) if return_window_days is not None else None
        self.clock = clock or (lambda: datetime.now().astimezone())
        self.label_base_url = label_base_url.rstrip("/") or "/returns/labels"
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA busy_timeout = 30000")
        if str(path) != ":memory:":
            self._db.execute("PRAGMA journal_mode = WAL")
        with self._transaction() as db:
            db.execute("CREATE TABLE IF NOT EXISTS orders (id TEXT PRIMARY KEY, email TEXT NOT NULL, "
                       "status TEXT NOT NULL, data TEXT NOT NULL)")
            db.execute("CREATE TABLE IF NOT EXISTS returns (id TEXT PRIMARY KEY, order_id TEXT NOT NULL "
                       "REFERENCES orders(id), created_at TEXT NOT NULL, label_url TEXT NOT NULL)")
            db.execute("CREATE TABLE IF NOT EXISTS idempotency (key TEXT PRIMARY KEY, operation TEXT NOT NULL, "
                       "order_id TEXT NOT NULL, outcome TEXT NOT NULL)")

    @classmethod
    def from_orders_file(cls, orders_json: Path, path: str | Path = ":memory:", **options: Any) -> SqliteStoreBackend:
        """A back-end seeded with the orders of an `orders.json` (`{"orders": [...]}`); existing rows are kept and
        bad rows are skipped with a warning naming the file, line and field."""
        backend = cls(path, **options)
        with backend._transaction() as db:
            db.executemany("INSERT OR IGNORE INTO orders (id, email, status, data) VALUES (?, ?, ?, ?)",
                           [(o["id"], canonical_text(o["email"]), o["status"], json.dumps(o))
                            for o in load_orders(Path(orders_json))])
        return backend

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return immediate_transaction(self._db, self._lock)

    def order(self, order_id: str) -> dict[str, Any] | None:
        """The order as the store keeps it, or None."""
        with self._lock:
            row = self._db.execute("SELECT data FROM orders WHERE id = ?", (order_key(order_id),)).fetchone()
        return json.loads(row["data"]) if row else None

    def verify(self, order_id: str, email: str) -> bool:
        """True only when the order exists and the email is the one on it (NFKC, case-insensitive). Never raises,
        and does the same work for a missing order (compares with a dummy digest)."""
        with self._lock:
            row = self._db.execute("SELECT email FROM orders WHERE id = ?", (order_key(order_id),)).fetchone()
        stored = text_digest(row["email"]) if row is not None else _DUMMY_DIGEST
        same = hmac.compare_digest(stored, text_digest(email))
        return same and row is not None

    def cancel_order(self, order_id: str, now: datetime | None = None, idempotency_key: str | None = None) -> Outcome:
        """Cancel an order that has not shipped yet."""
        def cancel(order: dict[str, Any]) -> Outcome:
            if order["status"] not in CANCELLABLE:
                return Outcome(False, f"status_{order['status']}", order)
            order.update(status="cancelled", cancelled_at=(now or self.clock()).isoformat(timespec="minutes"))
            return Outcome(True, order=self._save(order))
        return self._change("cancel", order_id, idempotency_key, cancel)

    def change_address(self, order_id: str, address: dict[str, str], idempotency_key: str | None = None) -> Outcome:
        """Replace the shipping address of an order that has not shipped yet."""
        def change(order: dict[str, Any]) -> Outcome:
            if order["status"] not in ADDRESS_CHANGEABLE:
                return Outcome(False, f"status_{order['status']}", order)
            missing = [k for k in ("line1", "city", "postal_code", "country") if not str(address.get(k) or "").strip()]
            if missing:
                return Outcome(False, "address_incomplete", order, {"missing": missing})
            order["shipping_address"] = {k: str(v).strip() for k, v in address.items()}
            return Outcome(True, order=self._save(order))
        return self._change("change_address", order_id, idempotency_key, change)

    def start_return(self, order_id: str, now: datetime | None = None, idempotency_key: str | None = None) -> Outcome:
        """Open a return for a delivered order inside the return window; gives a return id and a label link."""
        def open_one(order: dict[str, Any]) -> Outcome:
            if order["status"] not in RETURNABLE or not order.get("delivered_at"):
                return Outcome(False, f"status_{order['status']}", order)
            existing = self.open_return(order["id"])
            if existing:
                return Outcome(True, "already_open", order, existing)
            if self.return_window is None:
                return Outcome(False, "window_unknown", order)
            when = now or self.clock()
            deadline = datetime.fromisoformat(order["delivered_at"]) + self.return_window
            if when > deadline:
                return Outcome(False, "window_closed", order, {"deadline": deadline.date().isoformat()})
            return_id = f"R{order['id']}-{secrets.token_hex(2).upper()}"
            label_url = f"{self.label_base_url}/{return_id}.pdf"
            self._db.execute("INSERT INTO returns (id, order_id, created_at, label_url) VALUES (?, ?, ?, ?)",
                             (return_id, order["id"], when.isoformat(timespec="minutes"), label_url))
            return Outcome(True, order=order, detail={"return_id": return_id, "label_url": label_url,
                                                      "deadline": deadline.date().isoformat()})
        return self._change("start_return", order_id, idempotency_key, open_one)

    def open_return(self, order_id: str) -> dict[str, Any] | None:
        """The return opened in chat for an order (`return_id`, `label_url`, `created_at`), or None."""
        with self._lock:
            row = self._db.execute("SELECT id, label_url, created_at FROM returns WHERE order_id = ?",
                                   (order_key(order_id),)).fetchone()
        return {"return_id": row["id"], "label_url": row["label_url"], "created_at": row["created_at"]} if row else None

    def recorded(self, idempotency_key: str) -> Outcome | None:
        """The outcome recorded for a key, or None when no change ran with it."""
        with self._lock:
            row = self._db.execute("SELECT outcome FROM idempotency WHERE key = ?", (idempotency_key,)).fetchone()
        return Outcome.from_json(row["outcome"]) if row else None

    def _change(self, operation: str, order_id: str, key: str | None,
                change: Callable[[dict[str, Any]], Outcome]) -> Outcome:
        """Run `change` on the order in one transaction; with a key, a repeated key returns the recorded outcome."""
        with self._transaction() as db:
            if key:
                row = db.execute("SELECT outcome FROM idempotency WHERE key = ?", (key,)).fetchone()
                if row is not None:
                    return Outcome.from_json(row["outcome"])
            order = self.order(order_id)
            outcome = Outcome(False, "not_found") if order is None else change(order)
            if key:
                db.execute("INSERT INTO idempotency (key, operation, order_id, outcome) VALUES (?, ?, ?, ?)",
                           (key, operation, order_key(order_id), outcome.to_json()))
            return outcome

    def _save(self, order: dict[str, Any]) -> dict[str, Any]:
        """Write the order (inside the caller's transaction)."""
        self._db.execute("UPDATE orders SET status = ?, data = ? WHERE id = ?",
                         (order["status"], json.dumps(order), order["id"]))
        return order
