"""The store back-end the actions call: orders, identity checks, cancellations, address changes, returns.

`StoreBackend` is the small interface a store implements for its own systems; `SqliteStoreBackend` is the
demo's, a SQLite file seeded from an `orders.json`. This module imports nothing from `bot/`, so the actions run
unchanged on a stock `python -m rasa_sdk` action server.

Identity checks never raise and take the same steps whether or not the order exists (fixed-length digests compared
in constant time, against a dummy when there is no such order), so neither an answer nor an error tells a guesser
which order numbers exist. Changes take an `idempotency_key`: a call repeated with the same key (an action server
retry) returns the first call's `Outcome` and changes nothing again.

A return names the order lines it takes back (`items`: positions in the order's `items`). A line can be in one return
only, and a final-sale line (`final_sale` on the line, else on the catalog's product) in none. Each return has a
random label token: its label link (`/returns/labels/<return id>/<token>.pdf`) is a capability, and `return_label`
gives the return only with its own token.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets
import sqlite3
import threading
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from actions.sqlite_transactions import immediate_transaction
from actions.order_records import load_orders
from retrieval.loaders.catalog import load_catalog
from retrieval.loaders.errors import DataError

log = logging.getLogger("shopbot.actions.orders")

CANCELLABLE = ("placed", "paid")        # not yet shipped
ADDRESS_CHANGEABLE = ("placed", "paid")
RETURNABLE = ("delivered",)
MAX_INPUT_CHARS = 1024                  # longer input is never an email or an order id on file
SCHEMA_VERSION = 2                      # 1: one whole-order return per order; 2: returns name their lines, tokens
RETURN_ID = re.compile(r"^R[0-9]{1,32}-[0-9A-F]{4,8}\Z")
LABEL_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32}\Z")      # secrets.token_urlsafe(24): 192 random bits
CATALOG_FILES = ("catalog.jsonl", "catalog.json", "catalog.csv")
_DUMMY_DIGEST = hashlib.sha256(b"\xff no such order").digest()
_DUMMY_TOKEN = secrets.token_urlsafe(24)


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


@dataclass(frozen=True)
class ReturnOptions:
    """What of an order can go back now.

    `reason` is "" when a return can open, else why none can (`not_found`, `status_<status>`, `window_unknown`,
    `window_closed`). `items` has one entry per order line: `line` (its position in the order's `items`), `title`,
    `size`, `color`, `quantity`, and `why` it cannot go back ("" when it can, `final_sale`, or `in_return` with the
    `return_id`). `returns` are the returns already open for the order (as `returns_for` gives them), `deadline`
    the window's last day.
    """

    reason: str
    items: list[dict[str, Any]] = field(default_factory=list)
    returns: list[dict[str, Any]] = field(default_factory=list)
    deadline: str | None = None

    @property
    def returnable(self) -> list[int]:
        """The lines a return can take now (none when the order itself cannot be returned)."""
        return [] if self.reason else [item["line"] for item in self.items if not item["why"]]


class StoreBackend(Protocol):
    """What the actions need from a store's systems.

    `verify` must never raise and must not take a different path for a missing order. The changes take an optional
    `idempotency_key`: a repeated key must return the recorded `Outcome` without doing anything again (the actions
    derive it from the conversation, the action, the order, the items and the shopper's message, so a retried call
    repeats the key).

    Returns: `return_options` says which lines of an order can go back now. `start_return` opens one return for
    `items` (line positions; None: every line that can go back) and refuses the whole request when one line cannot
    (`items_unknown`; `items_not_returnable`, with those lines and why); lines all in one open return give that
    return (`already_open`). A return (`detail`, and each entry of `returns_for`) is `return_id`, `order_id`,
    `label_url` (relative to the bot's server unless the store's labels live elsewhere), `created_at` and `items`
    (the lines, as in `ReturnOptions.items`). `return_label` gives a return, with its `order`, only for its own
    label token (None otherwise, the same way whether or not the id exists): the label link's capability.
    `purchases` gives what the customer of one order bought, for a shopper verified on that order (personal
    recommendations): the lines of every order placed with the same email, oldest first, cancelled orders left out.
    """

    def order(self, order_id: str) -> dict[str, Any] | None: ...
    def purchases(self, order_id: str) -> list[dict[str, Any]]: ...
    def verify(self, order_id: str, email: str) -> bool: ...
    def cancel_order(self, order_id: str, now: datetime | None = None,
                     idempotency_key: str | None = None) -> Outcome: ...
    def change_address(self, order_id: str, address: dict[str, str],
                       idempotency_key: str | None = None) -> Outcome: ...
    def return_options(self, order_id: str, now: datetime | None = None) -> ReturnOptions: ...
    def start_return(self, order_id: str, now: datetime | None = None, idempotency_key: str | None = None,
                     items: Sequence[int] | None = None) -> Outcome: ...
    def open_return(self, order_id: str) -> dict[str, Any] | None: ...
    def returns_for(self, order_id: str) -> list[dict[str, Any]]: ...
    def return_label(self, return_id: str, token: str) -> dict[str, Any] | None: ...


class SqliteStoreBackend:
    """Orders and returns in one SQLite file (`:memory:` for a throw-away store); thread-safe, and a file may be
    shared by several processes (WAL, each change one immediate transaction). A file of an older schema is
    migrated when opened (`SCHEMA_VERSION`, kept in SQLite's `user_version`)."""

    def __init__(self, path: str | Path = ":memory:", return_window_days: int | None = 30, label_base_url: str = "",
                 clock: Callable[[], datetime] | None = None, final_sale_products: Iterable[str] = ()):
        """`clock` gives "now" for cancellations and return windows (a fixed date in tests and story runs);
        `return_window_days` None means the store has not said, and no return is opened in chat;
        `final_sale_products`: ids of products that cannot be returned (an order line's own `final_sale` wins)."""
        self.return_window = timedelta(days=return_window_days) if return_window_days is not None else None
        self.clock = clock or (lambda: datetime.now().astimezone())
        self.label_base_url = label_base_url.rstrip("/") or "/returns/labels"
        self.final_sale_products = frozenset(str(p) for p in final_sale_products)
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
                       "REFERENCES orders(id), created_at TEXT NOT NULL, label_url TEXT NOT NULL, "
                       "items TEXT NOT NULL DEFAULT '[]', label_token TEXT NOT NULL DEFAULT '', "
                       "label_digest TEXT NOT NULL DEFAULT '')")
            db.execute("CREATE TABLE IF NOT EXISTS idempotency (key TEXT PRIMARY KEY, operation TEXT NOT NULL, "
                       "order_id TEXT NOT NULL, outcome TEXT NOT NULL)")
            self._migrate(db)

    def _migrate(self, db: sqlite3.Connection) -> None:
        """Bring a file of an older schema up to `SCHEMA_VERSION`, inside the opening transaction (processes that
        open one file together migrate it once). Version 1 returns took the whole order and had no token: they get
        every line of their order and a fresh label token (their token-less links never worked)."""
        if db.execute("PRAGMA user_version").fetchone()[0] >= SCHEMA_VERSION:
            return
        columns = {row["name"] for row in db.execute("PRAGMA table_info(returns)")}
        if "items" not in columns:
            db.execute("ALTER TABLE returns ADD COLUMN items TEXT NOT NULL DEFAULT '[]'")
        if "label_token" not in columns:
            db.execute("ALTER TABLE returns ADD COLUMN label_token TEXT NOT NULL DEFAULT ''")
        if "label_digest" not in columns:
            db.execute("ALTER TABLE returns ADD COLUMN label_digest TEXT NOT NULL DEFAULT ''")
        legacy = db.execute("SELECT r.id, o.data FROM returns r LEFT JOIN orders o ON o.id = r.order_id "
                            "WHERE r.label_token = ''").fetchall()
        for row in legacy:
            order = json.loads(row["data"]) if row["data"] else {"items": []}
            lines = [{k: v for k, v in _line(order, n).items() if k != "why"} for n in range(len(order["items"]))]
            token = secrets.token_urlsafe(24)
            db.execute("UPDATE returns SET items = ?, label_token = ?, label_digest = ?, label_url = ? WHERE id = ?",
                       (json.dumps(lines), token, _digest(token), self._label_url(row["id"], token), row["id"]))
        db.execute("CREATE INDEX IF NOT EXISTS returns_by_order ON returns (order_id)")
        db.execute("CREATE INDEX IF NOT EXISTS returns_by_label ON returns (label_digest)")
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @classmethod
    def from_orders_file(cls, orders_json: Path, path: str | Path = ":memory:", catalog: Path | None = None,
                         **options: Any) -> SqliteStoreBackend:
        """A back-end seeded with the orders of an `orders.json` (`{"orders": [...]}`); existing rows are kept and
        bad rows are skipped with a warning naming the file, line and field. Final-sale products come from
        `catalog` (default: the store's catalog beside the orders file, when it has one)."""
        if "final_sale_products" not in options:
            options["final_sale_products"] = final_sale_products(catalog or _catalog_beside(Path(orders_json)))
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

    def purchases(self, order_id: str) -> list[dict[str, Any]]:
        """`{product_id, order_id, placed_at}` for each line of every order with this order's email (not cancelled),
        oldest first; [] for an unknown order."""
        with self._lock:
            rows = self._db.execute("SELECT data FROM orders WHERE email = (SELECT email FROM orders WHERE id = ?) "
                                    "AND status != 'cancelled'", (order_key(order_id),)).fetchall()
        orders = sorted((json.loads(row["data"]) for row in rows), key=lambda o: str(o.get("placed_at") or ""))
        return [{"product_id": str(line.get("product_id")), "order_id": order["id"], "placed_at": order.get("placed_at")}
                for order in orders for line in order.get("items") or [] if line.get("product_id")]

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

    def return_options(self, order_id: str, now: datetime | None = None) -> ReturnOptions:
        """Which lines of the order can go back now, and the returns already open for it."""
        with self._lock:
            order = self.order(order_id)
            return self._options(order, now) if order is not None else ReturnOptions("not_found")

    def _options(self, order: dict[str, Any], now: datetime | None) -> ReturnOptions:
        returns = self.returns_for(order["id"])
        in_return = {item["line"]: r["return_id"] for r in returns for item in r["items"]}
        items = []
        for line in range(len(order.get("items") or [])):
            item = _line(order, line)
            if line in in_return:
                item.update(why="in_return", return_id=in_return[line])
            elif self._final_sale(order["items"][line]):
                item["why"] = "final_sale"
            items.append(item)
        if order["status"] not in RETURNABLE or not order.get("delivered_at"):
            return ReturnOptions(f"status_{order['status']}", items, returns)
        if self.return_window is None:
            return ReturnOptions("window_unknown", items, returns)
        deadline = datetime.fromisoformat(order["delivered_at"]) + self.return_window
        reason = "window_closed" if (now or self.clock()) > deadline else ""
        return ReturnOptions(reason, items, returns, deadline.date().isoformat())

    def _final_sale(self, item: dict[str, Any]) -> bool:
        own = item.get("final_sale")
        return own if isinstance(own, bool) else str(item.get("product_id") or "") in self.final_sale_products

    def start_return(self, order_id: str, now: datetime | None = None, idempotency_key: str | None = None,
                     items: Sequence[int] | None = None) -> Outcome:
        """Open a return for `items` (order line positions; None: every line that can go back) of a delivered
        order inside the return window; gives a return id, its lines and a label link."""
        def open_one(order: dict[str, Any]) -> Outcome:
            options = self._options(order, now)
            if options.reason.startswith("status_"):
                return Outcome(False, options.reason, order)
            if items is None:  # the whole order: what can still go back, else the return already open for it
                lines = [i["line"] for i in options.items if not i["why"]] or \
                    [i["line"] for i in options.items if i["why"] == "in_return"]
            else:
                lines = sorted({n for n in items if isinstance(n, int) and not isinstance(n, bool)})
                if not lines or len(lines) != len(items) or any(n < 0 or n >= len(options.items) for n in lines):
                    return Outcome(False, "items_unknown", order)
            chosen = [options.items[n] for n in lines]
            opened = {i.get("return_id") for i in chosen}
            if chosen and all(i["why"] == "in_return" for i in chosen) and len(opened) == 1:
                return Outcome(True, "already_open", order, next(r for r in options.returns
                                                                  if r["return_id"] in opened))
            if options.reason:
                return Outcome(False, options.reason, order,
                               {"deadline": options.deadline} if options.deadline else None)
            refused = [i for i in chosen if i["why"]]
            if refused or not chosen:
                return Outcome(False, "items_not_returnable", order, {"items": refused})
            return Outcome(True, order=order, detail={**self._insert_return(order, chosen, now),
                                                      "deadline": options.deadline})
        return self._change("start_return", order_id, idempotency_key, open_one)

    def _insert_return(self, order: dict[str, Any], chosen: list[dict[str, Any]],
                       now: datetime | None) -> dict[str, Any]:
        """Write a new return (inside the caller's transaction) with an unused id and a fresh label token."""
        while True:
            return_id = f"R{order['id']}-{secrets.token_hex(2).upper()}"
            if self._db.execute("SELECT 1 FROM returns WHERE id = ?", (return_id,)).fetchone() is None:
                break
        token = secrets.token_urlsafe(24)
        lines = [{k: v for k, v in item.items() if k not in ("why", "return_id")} for item in chosen]
        created = (now or self.clock()).isoformat(timespec="minutes")
        self._db.execute("INSERT INTO returns (id, order_id, created_at, label_url, items, label_token, label_digest) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?)", (return_id, order["id"], created,
                                                          self._label_url(return_id, token), json.dumps(lines), token,
                                                          _digest(token)))
        return {"return_id": return_id, "order_id": order["id"], "label_url": self._label_url(return_id, token),
                "created_at": created, "items": lines}

    def _label_url(self, return_id: str, token: str) -> str:
        return f"{self.label_base_url}/{return_id}/{token}.pdf"

    def open_return(self, order_id: str) -> dict[str, Any] | None:
        """The latest return opened in chat for an order (as `returns_for` gives them), or None."""
        returns = self.returns_for(order_id)
        return returns[-1] if returns else None

    def returns_for(self, order_id: str) -> list[dict[str, Any]]:
        """The returns opened in chat for an order, oldest first: `return_id`, `order_id`, `label_url`,
        `created_at`, `items`."""
        with self._lock:
            rows = self._db.execute("SELECT * FROM returns WHERE order_id = ? ORDER BY created_at, rowid",
                                    (order_key(order_id),)).fetchall()
        return [self._return_record(row) for row in rows]

    def return_label(self, return_id: str, token: str) -> dict[str, Any] | None:
        """The return (as `returns_for` gives it, plus its `order`) when `token` is its label token, else None. The
        look-up is by the token's digest, never by the id, so a wrong token takes the same path whether or not the
        return id exists: neither the answer nor its timing tells a guesser which returns (or orders) exist."""
        wanted = token if isinstance(token, str) and LABEL_TOKEN.match(token) else _DUMMY_TOKEN
        with self._lock:
            row = self._db.execute("SELECT * FROM returns WHERE label_digest = ?", (_digest(wanted),)).fetchone()
        named = return_id if isinstance(return_id, str) and RETURN_ID.match(return_id) else ""
        same = hmac.compare_digest((row["id"] if row is not None else "~").encode("ascii"),
                                   named.encode("ascii") or b"-")
        if row is None or not same or wanted is _DUMMY_TOKEN:
            return None
        return {**self._return_record(row), "order": self.order(row["order_id"])}

    def _return_record(self, row: sqlite3.Row) -> dict[str, Any]:
        return {"return_id": row["id"], "order_id": row["order_id"], "created_at": row["created_at"],
                "label_url": self._label_url(row["id"], row["label_token"]), "items": json.loads(row["items"])}

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


def _line(order: dict[str, Any], line: int) -> dict[str, Any]:
    """One order line as returns name it: its position, title, size, colour and quantity (and `why`: "")."""
    item = order["items"][line]
    return {"line": line, "title": str(item.get("title") or ""), "size": item.get("size"),
            "color": item.get("color"), "quantity": int(item.get("quantity") or 1), "why": ""}


def _digest(token: str) -> str:
    """What a label token is looked up by (the token itself is kept only to give the link again)."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def _catalog_beside(orders_json: Path) -> Path | None:
    return next((orders_json.parent / n for n in CATALOG_FILES if (orders_json.parent / n).is_file()), None)


def final_sale_products(catalog: Path | None) -> frozenset[str]:
    """The ids of the catalog's final-sale products: none without a catalog, and none (with a warning naming the
    file, line and field) when it cannot be read."""
    if catalog is None:
        return frozenset()
    try:
        return frozenset(p.id for p in load_catalog(Path(catalog)) if p.final_sale)
    except DataError as exc:
        log.warning("final-sale products unknown: %s", exc)
        return frozenset()
