"""Part of finding 11: a change retried with the same idempotency key (an action server that receives the same call
twice) happens once, and the retry gets the first call's outcome, on the back-end and through rasa-sdk's own
ActionExecutor."""

from __future__ import annotations

import copy
from pathlib import Path

from actions.store_backend import SqliteStoreBackend
from tests.actions.conftest import call, execute, text_of, user_event
from tests.support import demo_backend

ADDRESS = {"line1": "1 Main St", "city": "Boise", "region": "ID", "postal_code": "83702", "country": "United States"}


def test_a_repeated_key_returns_the_recorded_outcome_and_changes_nothing(tmp_path: Path) -> None:
    backend = demo_backend(tmp_path / "store.db")
    first = backend.cancel_order("10453", idempotency_key="k1")
    again = backend.cancel_order("10453", idempotency_key="k1")
    assert first.ok and again == first
    assert backend.cancel_order("10453", idempotency_key="k2").reason == "status_cancelled"
    moved = backend.change_address("10456", ADDRESS, idempotency_key="a1")
    repeat = backend.change_address("10456", {**ADDRESS, "city": "Elsewhere"}, idempotency_key="a1")
    assert moved.ok and repeat == moved and backend.order("10456")["shipping_address"]["city"] == "Boise"
    opened = backend.start_return("10446", idempotency_key="r1")
    assert backend.start_return("10446", idempotency_key="r1") == opened
    reopened = demo_backend(tmp_path / "store.db")
    assert reopened.cancel_order("10453", idempotency_key="k1") == first  # recorded in the file, across restarts


def confirmed_call(action: str, order_id: str, email: str, message_id: str | None, **slots) -> dict:
    events = [user_event("cancel it", message_id="m-1"), user_event("yes", message_id=message_id)]
    return call(action, {"order_id": order_id, "email": email, "awaiting_confirmation": action, "confirmed": True,
                         **slots}, events=events, text="yes")


def test_a_retried_cancellation_through_the_executor_cancels_once(backend: SqliteStoreBackend) -> None:
    request = confirmed_call("action_cancel_order", "10453", "ifischer@example.com", "m-2")
    first = execute(copy.deepcopy(request))
    cancelled_at = backend.order("10453")["cancelled_at"]
    second = execute(copy.deepcopy(request))  # the same call again (a retry after a timeout)
    assert "is cancelled" in text_of(first) and text_of(second) == text_of(first)
    assert backend.order("10453")["cancelled_at"] == cancelled_at
    rows = backend._db.execute("SELECT COUNT(*) FROM idempotency WHERE operation = 'cancel'").fetchone()[0]
    assert rows == 1
    later = execute(confirmed_call("action_cancel_order", "10453", "ifischer@example.com", "m-3"))
    assert "already cancelled" in text_of(later)  # a new message is a new request


def test_without_a_message_id_the_user_events_timestamp_is_the_key(backend: SqliteStoreBackend) -> None:
    request = confirmed_call("action_start_return", "10446", "harper_brooks8@example.net", None)
    first, second = execute(copy.deepcopy(request)), execute(copy.deepcopy(request))
    assert "Return R10446-" in text_of(first) and text_of(second) == text_of(first)
    assert backend._db.execute("SELECT COUNT(*) FROM returns WHERE order_id = '10446'").fetchone()[0] == 1


def test_a_retried_address_change_is_made_once(backend: SqliteStoreBackend) -> None:
    request = confirmed_call("action_change_address", "10458", "ctremblay@example.net", "m-9",
                             new_address="12 Oak St, Portland, OR 97209, United States")
    first, second = execute(copy.deepcopy(request)), execute(copy.deepcopy(request))
    assert "Done: order 10458 will ship to 12 Oak St" in text_of(first) and text_of(second) == text_of(first)
    assert backend._db.execute("SELECT COUNT(*) FROM idempotency WHERE operation = 'change_address'").fetchone()[0] == 1
