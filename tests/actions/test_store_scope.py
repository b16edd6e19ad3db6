"""Finding 13 and part of 14: a store's actions see only that store's orders and policy. A store without orders has
no back-end (every order action says so and offers a person, without asking for an order number first), its
fallback and help never offer order look-ups, and the return window is the store's own (or said to be unknown)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from actions.services import get_backend, get_policy, install_store, set_backend, set_policy
from actions.verification import NO_ORDERS
from tests.actions.conftest import form_events, run, text_of
from tests.support import DEMO_ORDERS, DEMO_TODAY

DEMO_PAIR = {"order_id": "10445", "email": "avery_singh86@example.org"}
ORDER_ACTIONS = ["action_order_status", "action_track_shipment", "action_cancel_order", "action_start_return",
                 "action_refund_status", "action_change_address"]


def store(root: Path, store_yml: str = "name: Other Shop\n", orders: list[dict] | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "store.yml").write_text(store_yml, encoding="utf-8")
    if orders is not None:
        (root / "orders.json").write_text(json.dumps({"orders": orders}, indent=2), encoding="utf-8")
    return root


def own_order(**changes) -> dict:
    order = {"id": "20001", "email": "pat@other.example", "status": "delivered", "items": [{"title": "Mug"}],
             "total": 12.5, "delivered_at": "2026-11-01T10:00:00-05:00", "carrier": "UPS",
             "tracking_number": "1Z999", "placed_at": "2026-10-28T10:00:00-05:00"}
    return {**order, **changes}


@pytest.fixture()
def served(monkeypatch: pytest.MonkeyPatch):
    """Serve a store the way a stock action server does (`SHOPBOT_KB`), from the default services."""
    monkeypatch.delenv("SHOPBOT_ORDERS", raising=False)
    monkeypatch.setenv("SHOPBOT_TODAY", DEMO_TODAY)

    def serve(root: Path) -> None:
        monkeypatch.setenv("SHOPBOT_KB", str(root))
        set_backend(None)
    return serve


def test_a_store_without_orders_gets_no_demo_orders(served, tmp_path: Path) -> None:
    served(store(tmp_path / "shop"))
    assert get_backend() is None
    for action in ORDER_ACTIONS:
        out = run(action, DEMO_PAIR)
        assert text_of(out) == NO_ORDERS, action
        assert out["responses"][0]["buttons"] == [{"title": "Talk to a person", "payload": "/human_handoff"}]
        assert "DHL" not in json.dumps(out) and "9126145823" not in json.dumps(out)


def test_the_form_says_so_before_asking_for_an_order_number(served, tmp_path: Path) -> None:
    served(store(tmp_path / "shop"))
    out = run("validate_order_form", {}, events=form_events("where is my order?", {}))
    assert text_of(out) == NO_ORDERS
    assert {"event": "active_loop", "timestamp": None, "name": None} in out["events"]


def test_a_store_with_its_own_orders_sees_only_those(served, tmp_path: Path) -> None:
    served(store(tmp_path / "shop", orders=[own_order()]))
    assert "don't match" in text_of(run("action_order_status", DEMO_PAIR))  # the demo's customer is unknown here
    mine = run("action_track_shipment", {"order_id": "20001", "email": "PAT@other.example"})
    assert "1Z999" in text_of(mine)


def test_shopbot_orders_names_the_orders_file(served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    served(store(tmp_path / "shop"))
    monkeypatch.setenv("SHOPBOT_ORDERS", str(DEMO_ORDERS))
    set_backend(None)
    assert get_backend().order("10445")["id"] == "10445"


def test_the_return_window_is_the_stores_own(served, tmp_path: Path) -> None:
    served(store(tmp_path / "shop", "name: Other\nreturns:\n  window_days: 14\n", [
        own_order(), own_order(id="20002", delivered_at="2026-11-20T10:00:00-05:00"),
        own_order(id="20003", status="shipped", delivered_at=None)]))
    late = run("action_start_return", {"order_id": "20001", "email": "pat@other.example"})
    assert "outside the 14-day return window" in text_of(late) and "2026-11-15" in text_of(late)
    assert "30" not in text_of(late) and "warranty" not in text_of(late)  # this store gave no warranty
    inside = run("action_start_return", {"order_id": "20002", "email": "pat@other.example",  # after the yes
                                         "awaiting_confirmation": "action_start_return", "confirmed": True})
    assert "Return R20002-" in text_of(inside) and "3 business days" not in text_of(inside)
    shipped = run("action_cancel_order", {"order_id": "20003", "email": "pat@other.example"})
    assert "return it within 14 days" in text_of(shipped)


def test_a_store_without_a_return_window_says_it_is_unknown(served, tmp_path: Path) -> None:
    served(store(tmp_path / "shop", orders=[own_order(), own_order(id="20003", status="shipped", delivered_at=None)]))
    assert get_policy().return_window_days is None
    out = run("action_start_return", {"order_id": "20001", "email": "pat@other.example"})
    assert "don't know this store's return window" in text_of(out)
    assert out["responses"][0]["buttons"][0]["payload"] == "/human_handoff"
    shipped = run("action_cancel_order", {"order_id": "20003", "email": "pat@other.example"})
    assert "days" not in text_of(shipped) and "our team can help you with a return" in text_of(shipped)


def test_the_demo_keeps_its_30_days(backend) -> None:
    set_policy(None)
    assert get_policy().return_window_days == 30
    late = run("action_start_return", {"order_id": "10402", "email": "isla.fraser@example.org"})
    assert "outside the 30-day return window" in text_of(late) and "warranty" in text_of(late)


@pytest.mark.slow
def test_build_bot_installs_the_stores_back_end_and_drops_order_offers(demo_store, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process actions of a store brought with `--kb`: its (missing) orders, never the demo's, and replies that
    do not say the bot can check orders."""
    from actions.services import set_recommender
    from bot.app import build_bot
    from bot.config import Settings
    from bot.dialogue.executor import InProcessExecutor
    from bot.dialogue.store import ConversationStore
    from bot.messages import Inbound
    from bot.responder.responder import Responder

    monkeypatch.delenv("SHOPBOT_ORDERS", raising=False)
    root = store(tmp_path / "shop")
    engine = build_bot(Settings(kb_dir=root), demo_store, Responder(None), None, ConversationStore(),
                       InProcessExecutor()).engine

    async def chat() -> dict[str, str]:
        said = {}
        try:
            for text in ("/order_status", "/help", "/greet", "zqxv wlpr kjhg"):
                outs = [o async for o in engine.handle(Inbound("s", text, "test", metadata={"ip": "192.0.2.3"}))]
                said[text] = " ".join(o.text for o in outs if o.type == "message")
        finally:
            await engine.close()
            set_recommender(None)
        return said

    said = asyncio.run(chat())
    assert get_backend() is None
    assert said["/order_status"] == NO_ORDERS and "order number" not in said["/order_status"]
    for text in ("/help", "/greet", "zqxv wlpr kjhg"):
        assert "check orders" not in said[text] and "check an order" not in said[text]
        assert "check where an order is" not in said[text]
    assert "Sorry, I can't help with that" in said["zqxv wlpr kjhg"]


def test_install_store_reads_the_policy_and_orders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHOPBOT_ORDERS", raising=False)
    assert install_store(store(tmp_path / "a", "returns: {window_days: 7}\n", [own_order()])).order("20001")
    assert get_policy().return_window_days == 7
    assert install_store(store(tmp_path / "b")) is None and get_backend() is None
