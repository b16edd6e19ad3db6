"""Fixtures for the action tests: the demo orders (clock on 2026-11-23) and a fresh ledger of failed identity checks
for every test, and a helper that runs an action through rasa-sdk's own `ActionExecutor`."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk.executor import ActionExecutor

from actions import changes, forms, orders, products, returns
from actions.ledger import SqliteLedger
from actions.services import set_backend, set_ledger, set_policy
from actions.store_backend import SqliteStoreBackend
from tests.support import demo_backend

_stamps = itertools.count(1_790_000_000)


@pytest.fixture(autouse=True)
def ledger(tmp_path: Path) -> SqliteLedger:
    """Each test gets its own ledger file."""
    own = SqliteLedger(tmp_path / "verification.db")
    set_ledger(own)
    yield own
    set_ledger(None)
    own.close()


@pytest.fixture(autouse=True)
def backend() -> SqliteStoreBackend:
    """Each test starts from the demo orders as shipped."""
    demo = demo_backend()
    set_backend(demo)
    yield demo
    set_backend(None)
    set_policy(None)


def user_event(text: str = "hi", ip: str | None = "203.0.113.7", message_id: str | None = None,
               channel: str = "websocket") -> dict[str, Any]:
    """A user event as the engine writes it (the channel's metadata with the client address)."""
    metadata: dict[str, Any] = {"message_id": message_id}
    if ip is not None:
        metadata["ip"] = ip
    return {"event": "user", "timestamp": float(next(_stamps)), "text": text, "parse_data": {},
            "input_channel": channel, "metadata": metadata}


def form_events(text: str, slots: dict[str, Any], ip: str | None = "203.0.113.7",
                channel: str = "websocket") -> list[dict[str, Any]]:
    """The events the engine sends a form validator: the user message, then the slots it gave (to validate)."""
    return [user_event(text, ip, channel=channel),
            *({"event": "slot", "timestamp": None, "name": k, "value": v} for k, v in slots.items())]


def call(action: str, slots: dict[str, Any], sender: str = "websocket:shopper-1", ip: str | None = "203.0.113.7",
         events: list[dict[str, Any]] | None = None, text: str = "where is my order") -> dict[str, Any]:
    """The webhook call the engine sends for `action` (a tracker with `slots` and one user message)."""
    events = events if events is not None else [user_event(text, ip)]
    return {"next_action": action, "sender_id": sender, "version": "3.21.1",
            "domain": {"slots": {}, "forms": {"order_form": {"required_slots": ["order_id", "email"]}}},
            "tracker": {"sender_id": sender, "slots": {"requested_slot": None, **slots},
                        "latest_message": {"text": text}, "events": events, "paused": False,
                        "followup_action": None,
                        "active_loop": {"name": "order_form"} if action.startswith("validate_") else {},
                        "latest_action_name": "action_listen"}}


def execute(request: dict[str, Any]) -> dict[str, Any]:
    """Run a webhook call through a fresh rasa-sdk ActionExecutor; the events and responses it returns."""
    executor = ActionExecutor()
    for package in (orders, changes, returns, forms, products):
        executor.register_package(package)
    result = asyncio.run(executor.run(request))
    return {"events": result.events, "responses": result.responses}


def run(action: str, slots: dict[str, Any], **options: Any) -> dict[str, Any]:
    return execute(call(action, slots, **options))


def text_of(out: dict[str, Any]) -> str:
    return " ".join(r.get("text") or "" for r in out["responses"])


def slots_of(out: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in out["events"] if e["event"] == "slot"}
