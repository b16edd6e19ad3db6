"""Behaviour events as privacy data: the consent settings, parsing, what `behaviour_history` gives, withdrawal
deleting them from the SQLite file, and `shopbot privacy erase` leaving no behaviour anywhere (store file, log
file) after a real server stored some."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp
import pytest

from bot.config import ConfigError, PrivacySettings, Settings, load_settings
from bot.dialogue.store import ConversationStore
from bot.privacy.behaviour import BehaviourError, behaviour_event, behaviour_history, parse_behaviour
from bot.privacy.consent import consent_event, parse_consent
from tests.bot.privacy.conftest import say, sqlite_bytes
from tests.bot.privacy.test_export_erase import AVERY, run_cli
from tests.support import bot_app, running_app

IDS = {"P1001", "P1002"}


def viewed(product: str, t: float, **extra) -> dict:
    return behaviour_event({"name": "product_viewed", "product_id": product, **extra}, "web", t)


def test_behaviour_consent_is_opt_in_unless_the_store_says_notice() -> None:
    assert PrivacySettings().mode("behaviour") == "opt_in" and PrivacySettings().mode("transcript") == "none"
    assert Settings(privacy={"consent": "notice"}).privacy.mode("behaviour") == "notice"
    assert Settings(privacy={"consent": "none"}).privacy.mode("behaviour") == "opt_in"   # one word `none`
    assert Settings(privacy={"consent": {"transcript": "opt_in"}}).privacy.mode("behaviour") == "opt_in"
    with pytest.raises(ConfigError, match="privacy.consent.*behaviour.*opt_in"):
        load_settings(privacy={"consent": {"behaviour": "none"}})
    assert parse_consent('/consent{"behaviour": true}') == {"behaviour": True}


@pytest.mark.parametrize(("frame", "reason"), [
    ({"name": "product_viewed", "product_id": "P9"}, "not a product"),
    ({"name": "viewed", "product_id": "P1001"}, "`name` must be one of"),
    ({"product_id": "P1001"}, "`name` must be one of"),
    ({"name": "card_clicked", "product_id": None}, "`product_id` (a string) is required"),
    ({"name": "card_clicked", "product_id": "P" * 65}, "longer than 64"),
    ({"name": "card_clicked", "product_id": "P1001", "dwell_s": 3}, "only for"),
    ({"name": "product_viewed", "product_id": "P1001", "dwell_s": float("nan")}, "number of seconds"),
    ({"name": "product_viewed", "product_id": "P1001", "conversation": "web:x"}, "unknown field conversation"),
    (["product_viewed"], "JSON object"),
])
def test_parse_behaviour_says_what_is_wrong(frame, reason: str) -> None:
    with pytest.raises(BehaviourError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        parse_behaviour(frame, IDS)


def test_parse_behaviour_keeps_the_fields_it_knows() -> None:
    assert parse_behaviour({"type": "event", "name": "added_to_cart", "product_id": "P1002", "dwell_s": 31.26},
                           IDS) == {"name": "added_to_cart", "product_id": "P1002", "dwell_s": 31.3}


def test_history_only_while_consent_allows_and_only_after_the_latest_withdrawal() -> None:
    grant, withdraw = consent_event({"behaviour": True}, "web", 1.0), consent_event({"behaviour": False}, "web", 4.0)
    events = [grant, viewed("P1001", 2.0), viewed("P1001", 3.0, dwell_s=40), {"event": "user", "text": "hi"},
              viewed("P1002", 3.5, dwell_s=8)]
    history = behaviour_history(events, PrivacySettings())
    assert [(e["product_id"], e.get("dwell_s")) for e in history] == [("P1001", 40.0), ("P1002", 8.0)]
    assert history[0]["timestamp"] == 2.0 and events[1].get("dwell_s") is None   # copies: the log is untouched
    assert behaviour_history(events[1:], PrivacySettings()) == []                 # opt_in, never granted
    assert len(behaviour_history(events[1:], PrivacySettings(consent="notice"))) == 2
    withdrawn = events + [withdraw]
    assert behaviour_history(withdrawn, PrivacySettings(consent="notice")) == []
    regranted = withdrawn + [consent_event({"behaviour": True}, "web", 5.0), viewed("P1002", 6.0)]
    assert [e["timestamp"] for e in behaviour_history(regranted, Settings())] == [6.0]   # what came before: never


def test_withdrawal_deletes_the_events_from_the_sqlite_file(make_engine, tmp_path: Path) -> None:
    path = tmp_path / "conversations.db"
    store = ConversationStore(path)
    engine = make_engine(store=store)

    async def scenario() -> None:
        await say(engine, '/consent{"behaviour": true}', "w1", "web")
        await store.append("web:w1", [viewed("P1001", 10.0), viewed("P1002", 11.0)], "web", "w1")
        assert b"P1002" in sqlite_bytes(path)
        await say(engine, '/consent{"behaviour": false}', "w1", "web")

    asyncio.run(scenario())
    stored = store.load_all_sync("web:w1")
    store.close()
    assert [e["event"] for e in stored].count("consent") == 2 and not [e for e in stored if e["event"] == "behaviour"]
    raw = sqlite_bytes(path)
    assert b"product_viewed" not in raw and b"P1002" not in raw


def test_erase_leaves_no_behaviour_in_the_store_or_the_log_file(make_engine, demo_store, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    path, log_file = tmp_path / "conversations.db", tmp_path / "logs" / "shopbot.jsonl"
    database = f"sqlite:///{path}"
    viewed_title = next(p.title for p in demo_store.kb.products if p.id == "P1017")
    settings = Settings(data_dir=tmp_path / "data", logging={"file": log_file},
                        nudges={"enabled": True, "after_seconds": 5})

    async def browse() -> tuple[str, str]:
        store = ConversationStore(database)
        engine = make_engine(store=store)
        try:
            async with running_app(bot_app(engine, demo_store, settings)) as server, \
                    aiohttp.ClientSession() as http:
                async def shopper(texts: list[str], events: list[dict]) -> str:
                    async with http.ws_connect(server.make_url("/ws")) as ws:
                        session = (await ws.receive_json())["session_id"]
                        for text in texts:
                            await ws.send_json({"type": "message", "text": text})
                            while (await ws.receive_json(timeout=30))["type"] not in ("message", "error"):
                                pass
                        for body in events:
                            await ws.send_json({"type": "event", **body})
                            assert (await ws.receive_json(timeout=30))["type"] == "event_ack"
                            if body.get("dwell_s"):
                                assert (await ws.receive_json(timeout=30))["data"] == {"nudge": True}
                    return session

                avery = await shopper(['/order_status{"order_id": "10445"}', f'/inform{{"email": "{AVERY}"}}',
                                       '/consent{"behaviour": true}'],
                                      [{"name": "product_viewed", "product_id": "P1017"},
                                       {"name": "card_clicked", "product_id": "P1018"},
                                       {"name": "product_viewed", "product_id": "P1017", "dwell_s": 9}])
                other = await shopper(['/consent{"behaviour": true}'],
                                      [{"name": "added_to_cart", "product_id": "P1020"}])
                return avery, other
        finally:
            store.close()

    avery, other = asyncio.run(browse())
    raw = sqlite_bytes(path)
    assert b"P1017" in raw and viewed_title.encode() in raw and b"P1020" in raw   # stored, nudge included
    out = tmp_path / "export.json"
    run_cli(["privacy", "export", "--email", AVERY, "--json", str(out)], database, log_file, monkeypatch)
    exported = json.loads(out.read_text(encoding="utf-8"))
    events = [e for c in exported["conversations"] for e in c["events"]]
    assert [e["product_id"] for e in events if e["event"] == "behaviour"] == ["P1017", "P1018", "P1017"]
    assert exported["conversations"][0]["consent"] == {"behaviour": True}

    run_cli(["privacy", "erase", "--email", AVERY, "--yes"], database, log_file, monkeypatch)
    raw = sqlite_bytes(path)
    assert b"P1017" not in raw and b"P1018" not in raw and viewed_title.encode() not in raw
    assert avery.encode() not in raw
    logged = log_file.read_text(encoding="utf-8")   # the server wrote its log here
    assert "P1017" not in logged and "P1018" not in logged and viewed_title not in logged and avery not in logged
    store = ConversationStore(database)
    try:
        assert not [e for e in store.load_all_sync(f"web:{avery}")]
        assert [e["product_id"] for e in behaviour_history(store.load_all_sync(f"web:{other}"), settings)] == [
            "P1020"]   # another shopper's events stay
    finally:
        store.close()
