"""Order status through rasa-sdk's own ActionExecutor: details only when the order id and its email match."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from rasa_sdk.executor import ActionExecutor

from actions import orders
from actions.services import set_backend
from actions.store_backend import SqliteStoreBackend
from tests.actions.test_store_backend import ORDERS


@pytest.fixture(autouse=True)
def fresh_backend():
    set_backend(SqliteStoreBackend.from_orders_file(ORDERS))
    yield
    set_backend(None)


def run(slots: dict[str, Any]) -> dict[str, Any]:
    executor = ActionExecutor()
    executor.register_package(orders)
    call = {"next_action": "action_order_status", "sender_id": "shopper-1", "version": "3.21.1", "domain": {},
            "tracker": {"sender_id": "shopper-1", "slots": slots, "latest_message": {"text": "where is my order"},
                        "events": [], "paused": False, "followup_action": None, "active_loop": {},
                        "latest_action_name": "action_listen"}}
    result = asyncio.run(executor.run(call))
    return {"events": result.events, "responses": result.responses}


def test_status_after_a_matching_email() -> None:
    out = run({"order_id": "10445", "email": "AVERY_SINGH86@example.org"})
    text = out["responses"][0]["text"]
    assert text.startswith("Order 10445 shipped with") and "tracking number" in text
    assert out["responses"][0]["custom"]["order"]["id"] == "10445"
    assert {"event": "slot", "timestamp": None, "name": "verified_order", "value": "10445"} in out["events"]


def test_another_customers_email_reveals_nothing_and_counts_a_failure() -> None:
    out = run({"order_id": "10445", "email": "cramirez@example.com", "failed_checks": 2})
    text = out["responses"][0]["text"]
    assert "don't match" in text and "2 tries left" in text and "10445" not in text
    slots = {e["name"]: e["value"] for e in out["events"] if e["event"] == "slot"}
    assert slots == {"failed_checks": 3, "order_id": None, "email": None, "verified_order": None}


def test_after_five_failures_the_bot_stops_checking_and_offers_a_human() -> None:
    out = run({"order_id": "10445", "email": "avery_singh86@example.org", "failed_checks": 5})
    assert "can't look up orders" in out["responses"][0]["text"] and out["events"] == []
    assert out["responses"][0]["buttons"][0]["payload"] == "/human_handoff"
