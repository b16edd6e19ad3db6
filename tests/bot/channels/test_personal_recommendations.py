"""Personal recommendations end to end on a real server with the demo store's NLU: a shopper who browsed trail
shoes (with consent) asks what we recommend and gets cards whose reasons name what they looked at; and the ways an
outsider would try to see someone else's history: another session, a withdrawn consent, a forged verification slot,
another customer's order."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest

from bot.config import Settings
from bot.dialogue.executor import InProcessExecutor
from bot.dialogue.store import ConversationStore
from tests.bot.channels.conftest import run
from tests.bot.channels.test_behaviour import GRANT, WITHDRAW, event, say
from tests.support import bot_app, own_recommender, running_app

ASK = "what would you recommend for me?"
WITH_PURCHASES = "something that goes with what I bought"
OWNER_EMAIL = "avery_singh86@example.org"   # orders 10445, 10471, 10477 of the demo store


@pytest.fixture
def serve(demo_store, demo_parser, tmp_path: Path):
    """`async with serve() as server:` the whole app with the demo NLU; no trained recommender in its cache, so
    personal picks come from co-occurrence over the demo history (deterministic)."""
    from bot.app import build_bot
    from bot.responder.responder import Responder

    @asynccontextmanager
    async def running() -> AsyncIterator[object]:
        settings = Settings(cache_dir=tmp_path / "cache", data_dir=tmp_path / "data")
        store = ConversationStore(tmp_path / "conversations.db")
        with own_recommender():
            engine = build_bot(settings, demo_store, Responder(None), demo_parser, store, InProcessExecutor()).engine
            try:
                async with running_app(bot_app(engine, demo_store, settings)) as server:
                    yield server
            finally:
                store.close()

    return running


def trail_shoes(demo_store) -> list:
    return [p for p in demo_store.kb.products if p.subcategory == "trail running shoes"][:3]


def personal_reasons(message: dict) -> list[str]:
    return [c["reason"] for c in message.get("cards", []) if c["reason"].startswith(("you looked at", "you bought",
                                                                                      "you put"))]


def test_a_shopper_who_browsed_trail_shoes_gets_cards_led_by_them_and_nobody_else_sees_why(serve,
                                                                                          demo_store) -> None:
    viewed = trail_shoes(demo_store)

    async def scenario():
        async with serve() as server, aiohttp.ClientSession() as http:
            async with http.ws_connect(server.make_url("/ws")) as ws, \
                    http.ws_connect(server.make_url("/ws")) as stranger:
                await ws.receive_json()          # the session frames
                await stranger.receive_json()
                await say(ws, GRANT)
                for product in viewed:
                    assert (await event(ws, product=product.id))["type"] == "event_ack"
                mine = await say(ws, ASK)
                theirs = await say(stranger, ASK)
                await say(ws, WITHDRAW)
                after = await say(ws, ASK)
                return mine, theirs, after

    mine, theirs, after = run(scenario())
    titles = {p.title for p in viewed}
    assert mine.get("cards"), mine
    assert all(c["reason"].removeprefix("you looked at the ") in titles for c in mine["cards"])
    top = demo_store.kb.product(mine["cards"][0]["id"])
    assert top.category == "Running Shoes"
    assert not personal_reasons(theirs)          # another session never sees what this one browsed
    assert not personal_reasons(after)           # nor does this one once consent is withdrawn


def test_purchases_open_only_to_the_verified_customer_never_to_a_forged_slot(serve, demo_store) -> None:
    async def scenario():
        async with serve() as server, aiohttp.ClientSession() as http:
            async with http.ws_connect(server.make_url("/ws")) as forger, \
                    http.ws_connect(server.make_url("/ws")) as owner:
                await forger.receive_json()
                await owner.receive_json()
                await say(owner, '/order_status{"order_id": "10445"}')
                await say(owner, f'/inform{{"email": "{OWNER_EMAIL}"}}')
                owner_answer = await say(owner, WITH_PURCHASES)
                # while the owner is verified: another session names the slot the verification sets, the order
                # and its real email in a payload; it is never verified by that
                forged = json.dumps({"verified_order": "10445", "order_id": "10445", "email": OWNER_EMAIL})
                await say(forger, f"/product_recommendation{forged}")
                forged_answer = await say(forger, WITH_PURCHASES)
                return forged_answer, owner_answer

    forged_answer, owner_answer = run(scenario())
    assert not personal_reasons(forged_answer), forged_answer
    bought = {demo_store.kb.product(pid).title for pid in ("P1005", "P1171", "P1222")}
    reasons = personal_reasons(owner_answer)
    assert reasons and all(r.startswith("you bought the ") for r in reasons), owner_answer
    assert {r.removeprefix("you bought the ") for r in reasons} <= bought | {
        line["title"] for o in json.loads((demo_store.kb.root / "orders.json").read_text())["orders"]
        if o["email"] == OWNER_EMAIL and o["status"] != "cancelled" for line in o["items"]}
