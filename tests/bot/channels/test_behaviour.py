"""Storefront behaviour events over `/ws` and `POST /webhooks/rest/event` on a real server with a real store:
consent first (opt_in refuses, notice accepts until withdrawn), what is stored, bad events, one session unable to
write into another's conversation, rates, the widget's config, the product pages, and the one nudge."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest

from bot.config import NudgeSettings, PrivacySettings, ServerSettings, Settings
from bot.dialogue.store import ConversationStore
from bot.nudges import REFUSAL
from bot.privacy.behaviour import behaviour_history
from tests.bot.channels.conftest import run
from tests.support import bot_app, running_app

GRANT = '/consent{"behaviour": true}'
WITHDRAW = '/consent{"behaviour": false}'
REST_EVENT, REST_MESSAGE = "/webhooks/rest/event", "/webhooks/rest/webhook"


@pytest.fixture
def serve(make_engine, demo_store, tmp_path: Path):
    """`async with serve(privacy=..., nudges=..., **server_settings) as (server, store):` the whole app over a
    SQLite conversation store in the test's folder."""

    @asynccontextmanager
    async def running(privacy: dict | None = None, nudges: dict | None = None,
                      **options) -> AsyncIterator[tuple[object, ConversationStore]]:
        store = ConversationStore(tmp_path / "conversations.db")
        engine = make_engine(store=store)
        settings = Settings(server=ServerSettings(**options), data_dir=tmp_path / "data",
                            privacy=PrivacySettings(**(privacy or {})), nudges=NudgeSettings(**(nudges or {})))
        try:
            async with running_app(bot_app(engine, demo_store, settings)) as server:
                yield server, store
        finally:
            store.close()

    return running


async def reply(ws: aiohttp.ClientWebSocketResponse) -> list[dict]:
    """Frames up to the turn's `message` or `error`."""
    frames = []
    while True:
        frames.append(await ws.receive_json(timeout=30))
        if frames[-1]["type"] in ("message", "error", "handoff"):
            return frames


async def say(ws: aiohttp.ClientWebSocketResponse, text: str) -> dict:
    await ws.send_json({"type": "message", "text": text})
    return (await reply(ws))[-1]


async def event(ws: aiohttp.ClientWebSocketResponse, name: str = "product_viewed", product: str = "P1001",
                **extra) -> dict:
    await ws.send_json({"type": "event", "name": name, "product_id": product, **extra})
    return await ws.receive_json(timeout=30)


async def then_pong(ws: aiohttp.ClientWebSocketResponse) -> dict:
    """The frame after a ping: `pong` when nothing else (a nudge, say) was on its way."""
    await ws.send_json({"type": "ping"})
    return await ws.receive_json(timeout=30)


def behaviour_rows(store: ConversationStore, conversation_id: str) -> list[dict]:
    return [e for e in store.load_all_sync(conversation_id) if e["event"] == "behaviour"]


def test_opt_in_refuses_events_until_the_shopper_consents_then_stores_them(serve) -> None:
    async def scenario():
        async with serve() as (server, store), aiohttp.ClientSession() as http:
            async with http.ws_connect(server.make_url("/ws")) as ws:
                hello = await ws.receive_json()
                refused = await event(ws)
                pong = await then_pong(ws)   # the socket stays open
                before = store.load_all_sync(f"web:{hello['session_id']}")
                granted = await say(ws, GRANT)
                acks = [await event(ws), await event(ws, "card_clicked", "P1002"),
                        await event(ws, "added_to_cart", "P1002")]
                return refused, pong, before, granted, acks, store.load_all_sync(f"web:{hello['session_id']}")

    refused, pong, before, granted, acks, stored = run(scenario())
    assert refused["type"] == "error" and refused["code"] == "consent_required"
    assert refused["event"] == "product_viewed" and "consent" in refused["detail"]
    assert pong == {"type": "pong"} and before == []   # nothing stored, not even a conversation
    assert "use what you browse here to suggest products" in granted["text"]
    assert acks == [{"type": "event_ack", "name": "product_viewed", "product_id": "P1001"},
                    {"type": "event_ack", "name": "card_clicked", "product_id": "P1002"},
                    {"type": "event_ack", "name": "added_to_cart", "product_id": "P1002"}]
    kept = [e for e in stored if e["event"] == "behaviour"]
    assert [(e["name"], e["product_id"], e["channel"]) for e in kept] == [
        ("product_viewed", "P1001", "web"), ("card_clicked", "P1002", "web"), ("added_to_cart", "P1002", "web")]
    assert set(kept[0]) == {"event", "timestamp", "name", "product_id", "channel"}
    history = behaviour_history(stored, PrivacySettings())
    assert [e["product_id"] for e in history] == ["P1001", "P1002", "P1002"]


def test_notice_keeps_events_until_withdrawn_and_withdrawal_deletes_them(serve) -> None:
    async def scenario():
        async with serve(privacy={"consent": {"behaviour": "notice"}}) as (server, store), \
                aiohttp.ClientSession() as http:
            async with http.ws_connect(server.make_url("/ws")) as ws:
                conversation = f"web:{(await ws.receive_json())['session_id']}"
                acks = [await event(ws), await event(ws, "product_viewed", "P1003", dwell_s=12.34)]
                kept = behaviour_rows(store, conversation)
                withdrawn = await say(ws, WITHDRAW)
                after = await event(ws, "card_clicked", "P1004")
                return acks, kept, withdrawn, after, store.load_all_sync(conversation)

    acks, kept, withdrawn, after, stored = run(scenario())
    assert [a["type"] for a in acks] == ["event_ack", "event_ack"]
    assert [e["product_id"] for e in kept] == ["P1001", "P1003"] and kept[1]["dwell_s"] == 12.3
    assert "no longer use what you browse" in withdrawn["text"]
    assert after["code"] == "consent_required"
    assert not [e for e in stored if e["event"] == "behaviour"]   # deleted from the store, not just ignored
    assert behaviour_history(stored, PrivacySettings(consent={"behaviour": "notice"})) == []


@pytest.mark.parametrize("frame", [
    {"name": "product_viewed", "product_id": "P9999"},          # not in the catalog
    {"name": "product_viewed"},                                  # no product
    {"name": "product_viewed", "product_id": 1001},              # not a string
    {"name": "bought", "product_id": "P1001"},                   # not an event we take
    {"name": ["product_viewed"], "product_id": "P1001"},
    {"name": "product_viewed", "product_id": "\uff30" + "1001"},  # full-width P: another id
    {"name": "product_viewed", "product_id": "P1001\u0000"},
    {"name": "product_viewed", "product_id": "P" * 5000},        # too long
    {"name": "product_viewed", "product_id": "P1001", "dwell_s": "60"},
    {"name": "product_viewed", "product_id": "P1001", "dwell_s": True},
    {"name": "product_viewed", "product_id": "P1001", "dwell_s": -1},
    {"name": "product_viewed", "product_id": "P1001", "dwell_s": 10 ** 9},
    {"name": "card_clicked", "product_id": "P1001", "dwell_s": 40},  # a click has no dwell
    {"name": "product_viewed", "product_id": "P1001", "session_id": "someone-else"},  # names no other session
])
def test_bad_events_get_invalid_event_and_nothing_is_stored(serve, frame: dict) -> None:
    async def scenario():
        async with serve(privacy={"consent": "notice"}) as (server, store), aiohttp.ClientSession() as http:
            async with http.ws_connect(server.make_url("/ws")) as ws:
                conversation = f"web:{(await ws.receive_json())['session_id']}"
                await ws.send_json({"type": "event", **frame})
                error = await ws.receive_json(timeout=30)
                return error, await then_pong(ws), store.load_all_sync(conversation)

    error, pong, stored = run(scenario())
    assert error["type"] == "error" and error["code"] == "invalid_event" and error["detail"]
    assert "Traceback" not in error["detail"] and "\u0000" not in error["detail"]
    assert pong == {"type": "pong"} and stored == []


def test_a_lone_surrogate_and_an_oversized_frame_are_refused_and_the_socket_stays_open(serve) -> None:
    async def scenario():
        async with serve(privacy={"consent": "notice"}, max_message_chars=100) as (server, store), \
                aiohttp.ClientSession() as http:
            async with http.ws_connect(server.make_url("/ws")) as ws:
                conversation = f"web:{(await ws.receive_json())['session_id']}"
                await ws.send_str('{"type": "event", "name": "product_viewed", "product_id": "\\ud800"}')
                surrogate = await ws.receive_json(timeout=30)
                await ws.send_json({"type": "event", "name": "product_viewed", "product_id": "P1001",
                                    "pad": "x" * 70000})
                oversized = await ws.receive_json(timeout=30)
                return surrogate, oversized, await event(ws), behaviour_rows(store, conversation)

    surrogate, oversized, ack, kept = run(scenario())
    assert surrogate["code"] == "invalid_event" and oversized["code"] == "too_large"
    assert ack["type"] == "event_ack" and [e["product_id"] for e in kept] == ["P1001"]


def test_one_session_cannot_write_events_into_another_conversation(serve) -> None:
    async def scenario():
        async with serve() as (server, store), aiohttp.ClientSession() as http:
            async with http.ws_connect(server.make_url("/ws")) as alice:
                hello = await alice.receive_json()
                await say(alice, GRANT)
                await event(alice, "product_viewed", "P1001")
                # Mallory knows Alice's session id but not its secret: she gets a session of her own
                url = server.make_url("/ws").with_query(session_id=hello["session_id"], secret="x" * 43)
                async with http.ws_connect(url) as mallory:
                    other = await mallory.receive_json()
                    refused = await event(mallory, "added_to_cart", "P1005")   # no consent in her conversation
                    await say(mallory, GRANT)
                    ack = await event(mallory, "added_to_cart", "P1005")
                return (hello["session_id"], other, refused, ack, behaviour_rows(store, f"web:{hello['session_id']}"),
                        behaviour_rows(store, f"web:{other['session_id']}"))

    alice_id, other, refused, ack, alices, mallorys = run(scenario())
    assert other["session_id"] != alice_id and other["resumed"] is False and other["reason"] == "invalid_session"
    assert refused["code"] == "consent_required" and ack["type"] == "event_ack"
    assert [e["product_id"] for e in alices] == ["P1001"] and [e["product_id"] for e in mallorys] == ["P1005"]


def test_events_are_rate_limited_apart_from_messages(serve) -> None:
    async def scenario():
        async with serve(privacy={"consent": "notice"}, messages_per_minute=2) as (server, _), \
                aiohttp.ClientSession() as http:
            async with http.ws_connect(server.make_url("/ws")) as ws:
                await ws.receive_json()
                answers = [await event(ws) for _ in range(3)]
                return answers, await say(ws, "/greet")

    answers, greeting = run(scenario())
    assert [a["type"] for a in answers[:2]] == ["event_ack", "event_ack"]
    assert answers[2]["code"] == "rate_limited" and answers[2]["event"] == "product_viewed"
    assert greeting["type"] == "message"   # browsing did not use up the chat's budget


def test_the_rest_endpoint_follows_the_same_rules(serve) -> None:
    async def scenario():
        async with serve(auth_token="t0k") as (server, store), aiohttp.ClientSession() as http:
            auth = {"Authorization": "Bearer t0k"}

            async def post(body=None, path=REST_EVENT, headers=auth, **kwargs):
                response = await http.post(server.make_url(path), json=body, headers=headers, **kwargs)
                return response.status, await response.json()

            out = [await post({"sender": "s1", "name": "product_viewed", "product_id": "P1001"}, headers={}),
                   await post({"sender": "s1", "name": "product_viewed", "product_id": "P1001"}),
                   await post({"name": "product_viewed", "product_id": "P1001"}),
                   await post({"sender": "s1", "name": "product_viewed", "product_id": "nope"}),
                   await post(None, data="{oops")]
            await post({"sender": "s1", "message": GRANT}, path=REST_MESSAGE)
            out.append(await post({"sender": "s1", "name": "added_to_cart", "product_id": "P1001"}))
            return out, behaviour_rows(store, "rest:s1"), store.load_all_sync("rest:s2")

    out, kept, elsewhere = run(scenario())
    assert [(status, body["code"]) for status, body in out[:5]] == [
        (401, "unauthorized"), (403, "consent_required"), (400, "invalid_event"), (400, "invalid_event"),
        (400, "invalid_json")]
    assert out[5] == (200, {"type": "event_ack", "name": "added_to_cart", "product_id": "P1001", "messages": []})
    assert [(e["name"], e["channel"]) for e in kept] == [("added_to_cart", "rest")] and elsewhere == []


def test_the_widget_config_says_the_consent_mode_and_the_nudges(serve) -> None:
    async def scenario():
        async with aiohttp.ClientSession() as http:
            async with serve() as (server, _):
                default = await (await http.get(server.make_url("/widget/config"))).json()
            async with serve(privacy={"consent": {"behaviour": "notice"}},
                             nudges={"enabled": True, "after_seconds": 12}) as (server, _):
                chosen = await (await http.get(server.make_url("/widget/config"))).json()
            return default, chosen

    default, chosen = run(scenario())
    assert {k: default[k] for k in ("behaviour", "nudges")} == {
        "behaviour": {"consent": "opt_in", "words": "use what you browse here to suggest products"}, "nudges": None}
    assert set(default) == {"behaviour", "nudges", "store", "greeting"}   # the greeting: tests/bot/channels/test_widget_server.py
    assert chosen["behaviour"]["consent"] == "notice" and chosen["nudges"] == {"after_seconds": 12}


def test_the_demo_storefront_has_product_pages_that_track_views_and_the_cart(serve, demo_store) -> None:
    product = demo_store.kb.products[0]

    async def scenario():
        async with serve() as (server, _), aiohttp.ClientSession() as http:
            home = await (await http.get(server.make_url("/"))).text()
            page = await http.get(server.make_url(product.url))
            by_id = await http.get(server.make_url(f"/products/{product.id}"))
            missing = await http.get(server.make_url("/products/nothing-here"))
            return home, page.status, await page.text(), by_id.status, missing.status

    home, status, page, by_id, missing = run(scenario())
    assert product.url.startswith("/products/") and f'href="{product.url}"' in home
    assert status == 200 and by_id == 200 and missing == 404
    assert product.title in page and 'id="add-to-cart"' in page and f'data-product="{product.id}"' in page
    assert 'track("product_viewed"' in page and 'track("added_to_cart"' in page


def test_nudges_are_off_by_default(serve) -> None:
    async def scenario():
        async with serve(privacy={"consent": "notice"}) as (server, _), aiohttp.ClientSession() as http:
            async with http.ws_connect(server.make_url("/ws")) as ws:
                await ws.receive_json()
                return await event(ws, dwell_s=600), await then_pong(ws)

    ack, after = run(scenario())
    assert ack["type"] == "event_ack" and after == {"type": "pong"}


def test_one_nudge_a_session_from_the_products_facts_and_none_after_a_no(serve, demo_store) -> None:
    title = next(p.title for p in demo_store.kb.products if p.id == "P1001")
    cart_title = next(p.title for p in demo_store.kb.products if p.id == "P1002")

    async def scenario():
        async with serve(nudges={"enabled": True, "after_seconds": 30}) as (server, store), \
                aiohttp.ClientSession() as http:
            async with http.ws_connect(server.make_url("/ws")) as ws:
                hello = await ws.receive_json()
                refused = await event(ws, dwell_s=45)          # no consent: no event, no nudge
                await say(ws, GRANT)
                short = [await event(ws, dwell_s=29.9), await then_pong(ws)]
                await ws.send_json({"type": "event", "name": "product_viewed", "product_id": "P1001", "dwell_s": 31})
                nudged = [await ws.receive_json(timeout=30), await ws.receive_json(timeout=30)]
            query = {"session_id": hello["session_id"], "secret": hello["secret"]}
            async with http.ws_connect(server.make_url("/ws").with_query(query)) as again:
                await again.receive_json()
                history = await again.receive_json()
                twice = [await event(again, "added_to_cart", "P1002", dwell_s=120), await then_pong(again)]
            async with http.ws_connect(server.make_url("/ws")) as other:   # another session: said no first
                await other.receive_json()
                await say(other, GRANT)
                no = await say(other, REFUSAL)
                after_no = [await event(other, "added_to_cart", "P1002", dwell_s=120), await then_pong(other)]
            async with http.ws_connect(server.make_url("/ws")) as cart:
                await cart.receive_json()
                await say(cart, GRANT)
                await cart.send_json({"type": "event", "name": "added_to_cart", "product_id": "P1002",
                                      "dwell_s": 40})
                cart_nudge = [await cart.receive_json(timeout=30), await cart.receive_json(timeout=30)]
                declined = await say(cart, cart_nudge[1]["buttons"][0]["payload"])
            return (refused, short, nudged, history, twice, no, after_no, cart_nudge, declined,
                    store.load_all_sync(f"web:{hello['session_id']}"))

    refused, short, nudged, history, twice, no, after_no, cart_nudge, declined, stored = run(scenario())
    assert refused["code"] == "consent_required"
    assert short[0]["type"] == "event_ack" and short[1] == {"type": "pong"}   # not long enough
    ack, nudge = nudged
    assert ack["type"] == "event_ack" and nudge["type"] == "message" and nudge["data"] == {"nudge": True}
    assert nudge["text"].startswith(f"Questions about the {title}?") and "$75" in nudge["text"]
    assert nudge["buttons"] == [{"title": "No thanks", "payload": REFUSAL}]
    assert history["messages"][-1]["text"] == nudge["text"]          # the nudge is in the conversation
    assert twice[0]["type"] == "event_ack" and twice[1] == {"type": "pong"}   # once a session, across reconnects
    assert "won't" in no["text"] and after_no[0]["type"] == "event_ack" and after_no[1] == {"type": "pong"}
    assert cart_nudge[1]["text"].startswith(f"Still thinking about the {cart_title} in your cart?")
    assert "won't" in declined["text"]
    assert [e.get("status") for e in stored if e["event"] == "nudge"] == ["sent"]
    fold = behaviour_history(stored, PrivacySettings())
    assert [(e["product_id"], e.get("dwell_s")) for e in fold] == [("P1001", 31.0), ("P1002", 120.0)]


def test_a_rest_sender_gets_its_nudge_in_the_answer_and_a_bad_nudge_payload_an_error(serve) -> None:
    async def scenario():
        async with serve(privacy={"consent": "notice"}, nudges={"enabled": True, "after_seconds": 5}) as (server, _), \
                aiohttp.ClientSession() as http:
            async def post(path: str, body: dict) -> object:
                return await (await http.post(server.make_url(path), json=body)).json()

            first = await post(REST_EVENT, {"sender": "s9", "name": "added_to_cart", "product_id": "P1001",
                                            "dwell_s": 6})
            second = await post(REST_EVENT, {"sender": "s9", "name": "added_to_cart", "product_id": "P1001",
                                             "dwell_s": 60})
            bad = await post(REST_MESSAGE, {"sender": "s9", "message": '/nudge{"wanted": "maybe"}'})
            return first, second, bad

    first, second, bad = run(scenario())
    texts = [m["text"] for m in first["messages"] if "text" in m]
    assert len(texts) == 1 and texts[0].startswith("Still thinking about the") and "$75" in texts[0]
    assert any(m.get("custom") == {"nudge": True} for m in first["messages"]) and second["messages"] == []
    assert bad[0]["custom"] == {"error": "invalid_nudge"} and "/nudge" in bad[0]["text"]
