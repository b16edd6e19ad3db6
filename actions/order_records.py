"""Reading a store's `orders.json` (`{"orders": [...]}`) row by row: each bad row is reported with its file, line and
field, and the good rows are kept, so one bad row never takes every order look-up down.

`shopbot validate` lists the problems; the back-end skips bad rows with a logged warning.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from pathlib import Path
from typing import Any

from retrieval.loaders.errors import DataIssue

log = logging.getLogger("shopbot.actions.orders")
STATUSES = ("placed", "paid", "shipped", "delivered", "cancelled", "returned")
DATE_FIELDS = ("placed_at", "estimated_delivery", "shipped_at", "delivered_at", "cancelled_at", "returned_at")


def read_orders(path: Path) -> tuple[list[dict[str, Any]], list[DataIssue]]:
    """The valid orders of an `orders.json` and the problems of the others (a file that cannot be read at all is
    one problem and no orders)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [], [DataIssue(str(path), f"cannot read the file: {exc}")]
    try:
        records = _records(text)
    except json.JSONDecodeError as exc:
        return [], [DataIssue(str(path), f"invalid JSON: {exc.msg} (column {exc.colno})", exc.lineno)]
    except ValueError as exc:
        return [], [DataIssue(str(path), str(exc), 1, "orders")]
    orders: list[dict[str, Any]] = []
    issues: list[DataIssue] = []
    seen: set[str] = set()
    for line, record in records:
        problems = order_problems(record)
        order_id = str(record.get("id", "")).strip()
        if not problems and order_id in seen:
            problems = [("id", f"duplicate order id {order_id!r}")]
        if problems:
            issues += [DataIssue(str(path), message, line, field) for field, message in problems]
            continue
        seen.add(order_id)
        orders.append({**record, "id": order_id})
    return orders, issues


def load_orders(path: Path) -> list[dict[str, Any]]:
    """The valid orders of an `orders.json`; every skipped row is logged as a warning naming its file and field."""
    orders, issues = read_orders(path)
    for issue in issues:
        log.warning("order skipped: %s", issue)
    return orders


def order_problems(order: Any) -> list[tuple[str, str]]:
    """(field, problem) for each field the order actions rely on that is missing or malformed."""
    if not isinstance(order, dict):
        return [("", "each order must be a JSON object")]
    problems: list[tuple[str, str]] = []
    order_id = order.get("id")
    if isinstance(order_id, bool) or not isinstance(order_id, (str, int)) or not str(order_id).strip().isdigit():
        problems.append(("id", f"order id must be digits, got {order_id!r}"))
    email = order.get("email")
    if not isinstance(email, str) or email.count("@") != 1 or not email.strip():
        problems.append(("email", f"email must be an email address, got {email!r}"))
    if order.get("status") not in STATUSES:
        problems.append(("status", f"status must be one of {', '.join(STATUSES)}, got {order.get('status')!r}"))
    total = order.get("total")
    if isinstance(total, bool) or not isinstance(total, (int, float)) or total < 0:
        problems.append(("total", f"total must be a non-negative number, got {total!r}"))
    items = order.get("items")
    if not isinstance(items, list) or not all(isinstance(i, dict) and isinstance(i.get("title"), str) for i in items):
        problems.append(("items", "items must be a list of objects with a title"))
    else:
        for n, item in enumerate(items):
            quantity = item.get("quantity", 1)
            if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
                problems.append((f"items.{n}.quantity", f"quantity must be a whole number >= 1, got {quantity!r}"))
    for name in DATE_FIELDS:
        value = order.get(name)
        if value is not None and not _is_datetime(value):
            problems.append((name, f"must be an ISO date or time, got {value!r}"))
    if order.get("status") == "delivered" and order.get("delivered_at") is None:
        problems.append(("delivered_at", "a delivered order needs delivered_at"))
    refund = order.get("refund")
    if refund is not None:
        amount = refund.get("amount") if isinstance(refund, dict) else None
        if isinstance(amount, bool) or not isinstance(amount, (int, float)):
            problems.append(("refund.amount", f"a refund needs a numeric amount, got {amount!r}"))
    for name in ("carrier", "tracking_number"):
        if order.get(name) is not None and not isinstance(order.get(name), str):
            problems.append((name, f"must be text, got {order.get(name)!r}"))
    return problems


def _records(text: str) -> list[tuple[int, Any]]:
    """(line, item) for each item of the file's `orders` list (or of a top-level list)."""
    data = json.loads(text)
    items = data.get("orders") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise ValueError("expected {\"orders\": [...]}")
    decoder = json.JSONDecoder()
    start = text.index('"orders"') + len('"orders"') if isinstance(data, dict) else 0
    pos = text.index("[", start) + 1
    records = []
    for item in items:
        while text[pos] in " \t\r\n,":
            pos += 1
        records.append((text.count("\n", 0, pos) + 1, item))
        _, pos = decoder.raw_decode(text, pos)
    return records


def _is_datetime(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True
