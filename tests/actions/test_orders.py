"""Order status through rasa-sdk's own ActionExecutor: details only when the order id and its email match."""

from __future__ import annotations

from tests.actions.conftest import run, slots_of, text_of


def test_status_after_a_matching_email() -> None:
    out = run("action_order_status", {"order_id": "10445", "email": "AVERY_SINGH86@example.org"})
    text = out["responses"][0]["text"]
    assert text.startswith("Order 10445 shipped with") and "tracking number" in text
    assert out["responses"][0]["custom"]["order"]["id"] == "10445"
    assert {"event": "slot", "timestamp": None, "name": "verified_order", "value": "10445"} in out["events"]


def test_another_customers_email_reveals_nothing_and_counts_a_failure() -> None:
    for tries_left in (4, 3):
        out = run("action_order_status", {"order_id": "10445", "email": "cramirez@example.com", "failed_checks": 0})
        text = text_of(out)
        assert "don't match" in text and f"{tries_left} tries left" in text and "10445" not in text
        assert slots_of(out) == {"failed_checks": 5 - tries_left, "order_id": None, "email": None,
                                 "verified_order": None}


def test_after_five_failures_the_bot_stops_checking_and_offers_a_human() -> None:
    for n in range(5):
        run("action_order_status", {"order_id": "10445", "email": f"guess{n}@example.com"})
    out = run("action_order_status", {"order_id": "10445", "email": "avery_singh86@example.org", "failed_checks": 0})
    assert "can't look up orders" in text_of(out) and "DHL" not in text_of(out)
    assert out["responses"][0]["buttons"][0]["payload"] == "/human_handoff"
