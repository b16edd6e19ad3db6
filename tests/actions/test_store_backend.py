"""The demo store back-end on a real SQLite file, seeded from the demo orders."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from actions.store_backend import SqliteStoreBackend

ORDERS = Path(__file__).resolve().parents[2] / "knowledge_base" / "demo" / "orders.json"


@pytest.fixture()
def backend(tmp_path: Path) -> SqliteStoreBackend:
    return SqliteStoreBackend.from_orders_file(ORDERS, tmp_path / "store.sqlite")


def test_orders_are_seeded_and_identity_needs_the_email_on_the_order(backend: SqliteStoreBackend) -> None:
    assert backend.order("10402")["status"] == "delivered" and backend.order("#10402")["id"] == "10402"
    assert backend.order("99999") is None
    assert backend.verify("10402", " Isla.Fraser@example.org ")
    assert not backend.verify("10402", "cramirez@example.com")  # another customer's email
    assert not backend.verify("99999", "isla.fraser@example.org")


def test_cancel_and_address_change_only_before_shipping(backend: SqliteStoreBackend, tmp_path: Path) -> None:
    assert backend.cancel_order("10445").reason == "status_shipped"
    done = backend.cancel_order("10453")
    assert done.ok and done.order["status"] == "cancelled"
    reopened = SqliteStoreBackend.from_orders_file(ORDERS, tmp_path / "store.sqlite")  # persisted, not re-seeded
    assert reopened.order("10453")["status"] == "cancelled"
    assert backend.change_address("10445", {"line1": "1 Main St", "city": "Boise", "postal_code": "83702",
                                            "country": "United States"}).reason == "status_shipped"
    assert backend.change_address("10456", {"line1": "1 Main St"}).reason == "address_incomplete"
    moved = backend.change_address("10456", {"line1": "1 Main St", "city": "Boise", "region": "ID",
                                             "postal_code": "83702", "country": "United States"})
    assert moved.ok and backend.order("10456")["shipping_address"]["city"] == "Boise"


def test_returns_open_inside_the_window_once(backend: SqliteStoreBackend) -> None:
    delivered = datetime.fromisoformat(backend.order("10402")["delivered_at"])
    opened = backend.start_return("10402", delivered + timedelta(days=10))
    assert opened.ok and opened.detail["return_id"].startswith("R10402-") and opened.detail["label_url"].endswith(".pdf")
    again = backend.start_return("10402", delivered + timedelta(days=11))
    assert again.reason == "already_open" and again.detail["return_id"] == opened.detail["return_id"]
    late = backend.start_return("10402", delivered + timedelta(days=31))
    assert late.ok  # the return already opened stays valid
    fresh = SqliteStoreBackend.from_orders_file(ORDERS)
    closed = fresh.start_return("10402", delivered + timedelta(days=31))
    assert not closed.ok and closed.reason == "window_closed"
    assert fresh.start_return("10453").reason == "status_placed"
