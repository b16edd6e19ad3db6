"""Retention (`privacy.retention_days`) and consent (`privacy.consent`): `shopbot privacy purge` once, and the
periodic job inside the real server; consent events recorded in the conversation's log, exported and erased
with it."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import update

from bot.cli import main
from bot.config import ConfigError, PrivacySettings, Settings, load_settings
from bot.dialogue.store import ConversationStore, conversations
from bot.privacy import logfile
from bot.privacy.consent import ConsentError, allows, parse_consent, record_consent
from bot.privacy.retention import purge
from tests.bot.privacy.conftest import say
from tests.support import bot_app, running_app

DAY = 86_400.0


def age(store: ConversationStore, conversation_id: str, seconds: float) -> None:
    """Make a conversation's last activity `seconds` ago (what waiting that long would do)."""
    with store.engine.begin() as connection:
        connection.execute(update(conversations).where(conversations.c.id == conversation_id)
                           .values(updated_at=time.time() - seconds))


def test_purge_deletes_conversations_idle_past_the_retention(make_engine, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "conversations.db"
    engine = make_engine(store=ConversationStore(path))

    async def chat() -> None:
        await say(engine, "do you ship to canada?", "old", "web")
        await say(engine, "do you ship to canada?", "new", "rest")

    asyncio.run(chat())
    age(engine.store, "web:old", 31 * DAY)
    age(engine.store, "rest:new", 29 * DAY)
    engine.store.close()
    config = tmp_path / "shopbot.yml"
    config.write_text(f"dialogue: {{database: 'sqlite:///{path}'}}\nprivacy: {{retention_days: 30}}\n")
    result = CliRunner().invoke(main, ["--config", str(config), "privacy", "purge"])
    assert result.exit_code == 0, result.output
    assert "Purged 1 conversations" in result.output
    store = ConversationStore(path)
    assert store.load_all_sync("web:old") == [] and store.load_all_sync("rest:new")
    assert store.count_sync() == 1
    store.close()


def test_purge_with_no_retention_keeps_everything(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'c.db'}")
    result = CliRunner().invoke(main, ["privacy", "purge"])
    assert result.exit_code == 0 and "Nothing to purge" in result.output


def test_the_server_runs_the_retention_job(make_engine, demo_store, tmp_path: Path) -> None:
    store = ConversationStore(tmp_path / "conversations.db")
    engine = make_engine(store=store)
    log_file = tmp_path / "shopbot.jsonl"
    old_line = json.dumps({"time": "2020-01-01T00:00:00Z", "level": "info", "logger": "x", "message": "old"})
    log_file.write_text(old_line + "\n")

    async def scenario() -> tuple[int, list[str]]:
        await say(engine, "hi", "old", "web")
        await say(engine, "hi", "fresh", "web")
        age(store, "web:old", 8 * DAY)
        settings = Settings(privacy=PrivacySettings(retention_days=7), logging={"file": log_file})
        async with running_app(bot_app(engine, demo_store, settings)):
            deadline = time.monotonic() + 60
            while store.count_sync() > 1 and time.monotonic() < deadline:
                await asyncio.sleep(0.05)   # the job's first round runs as the server starts
            return store.count_sync(), log_file.read_text().splitlines()

    count, lines = asyncio.run(scenario())
    assert count == 1 and store.load_all_sync("web:fresh")
    assert old_line not in lines


def test_consent_is_an_event_of_the_conversation_exported_and_erased_with_it(make_engine, tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    database = f"sqlite:///{tmp_path / 'conversations.db'}"
    engine = make_engine(store=ConversationStore(database))

    async def chat() -> None:
        await say(engine, "I'm lena.hoffmann@example.org", "lena", "web")
        await record_consent(engine, "web:lena", parse_consent('/consent{"transcript": true}'), "web", "lena")

    asyncio.run(chat())
    consent = [e for e in engine.store.load_all_sync("web:lena") if e["event"] == "consent"]
    assert len(consent) == 1 and consent[0]["granted"] == ["transcript"] and consent[0]["channel"] == "web"
    assert consent[0]["withdrawn"] == [] and consent[0]["timestamp"] > 0
    engine.store.close()
    monkeypatch.setenv("SHOPBOT_DATABASE_URL", database)
    export = json.loads(CliRunner().invoke(main, ["privacy", "export", "--email", "lena.hoffmann@example.org"]).output)
    assert export["conversations"][0]["consent"] == {"transcript": True}
    result = CliRunner().invoke(main, ["privacy", "erase", "--email", "lena.hoffmann@example.org", "--yes"])
    assert result.exit_code == 0 and "Erased 1 conversations" in result.output
    assert ConversationStore(database).load_all_sync("web:lena") == []


def test_opt_in_keeps_a_transcript_past_its_session_only_with_consent(make_engine, tmp_path: Path) -> None:
    store = ConversationStore(tmp_path / "conversations.db")
    engine = make_engine(store=store)
    settings = PrivacySettings(consent="opt_in")

    async def scenario() -> dict[str, int]:
        for sender in ("granted", "silent", "withdrew", "active"):
            await say(engine, "hi", sender, "web")
        await record_consent(engine, "web:granted", {"transcript": True}, "web")
        await record_consent(engine, "web:withdrew", {"transcript": True}, "web")
        await record_consent(engine, "web:withdrew", {"transcript": False}, "web")
        for sender in ("granted", "silent", "withdrew"):
            age(store, f"web:{sender}", 61 * 60)   # the demo's sessions expire after 60 minutes
        return await purge(store, settings, session_minutes=60, locks=engine.locks)

    counts = asyncio.run(scenario())
    assert counts["conversations"] == 2
    kept = {c for c in ("granted", "silent", "withdrew", "active") if store.load_all_sync(f"web:{c}")}
    assert kept == {"granted", "active"}
    notice = PrivacySettings(consent={"transcript": "notice"})
    assert allows(notice, "transcript", []) and not allows(notice, "transcript", [
        {"event": "consent", "granted": [], "withdrawn": ["transcript"]}])
    store.close()


def test_consent_payloads_and_settings_are_checked() -> None:
    assert parse_consent("/consent") == {"transcript": True, "behaviour": True}   # every kind
    assert parse_consent('/consent{"granted": false}') == {"transcript": False, "behaviour": False}
    assert parse_consent("hello") is None
    for bad in ('/consent{"cookies": true}', '/consent{"transcript": "yes"}', "/consent{nope", "/consent{}"):
        with pytest.raises(ConsentError):
            parse_consent(bad)
    assert Settings(privacy={"consent": "notice"}).privacy.mode("transcript") == "notice"
    with pytest.raises(ConfigError, match="privacy.consent"):
        load_settings(privacy={"consent": {"cookies": "opt_in"}})
    with pytest.raises(ConfigError, match="retention_days"):
        load_settings(privacy={"retention_days": -1})


def test_the_log_file_gets_redacted_json_lines(tmp_path: Path) -> None:
    import logging

    path = tmp_path / "logs" / "shopbot.jsonl"
    handler = logfile.attach(path)
    log = logging.getLogger("shopbot.privacy_test")
    log.setLevel(logging.INFO)
    log.info("shopper a@example.org paid with 4111 1111 1111 1111")
    logfile.detach(handler)
    entry = json.loads(path.read_text().splitlines()[-1])
    assert entry["message"] == "shopper [email] paid with [card]" and entry["level"] == "info"


def test_a_consent_turn_gives_the_event_and_a_reply_for_the_engine(demo_domain) -> None:
    from bot.dialogue.tracker import DialogueTracker
    from bot.privacy.consent import consent_turn

    tracker = DialogueTracker("web:s", demo_domain)
    event, reply = consent_turn('/consent{"transcript": false}', "web", now=5.0)
    tracker.update(event)   # what the engine records (an event the tracker's state ignores)
    assert tracker.events[-1] == {"event": "consent", "timestamp": 5.0, "granted": [], "withdrawn": ["transcript"],
                                  "channel": "web"}
    assert reply.startswith("Thanks, your choice is saved: we no longer keep")
    assert consent_turn("where is my order?", "web") == (None, "")
    event, reply = consent_turn('/consent{"cookies": true}', "web")
    assert event is None and "unknown kind of data cookies" in reply


def test_privacy_commands_are_listed() -> None:
    result = CliRunner().invoke(main, ["privacy", "--help"])
    assert result.exit_code == 0 and all(f"  {c} " in result.output for c in ("erase", "export", "purge"))


def test_a_shopper_gives_and_withdraws_consent_through_the_engine(make_engine) -> None:
    from bot.messages import Inbound
    from bot.privacy.consent import choices

    store = ConversationStore()
    engine = make_engine(store)

    async def turn(text: str) -> list:
        return [e async for e in engine.handle(Inbound("consenting", text, "web"))]

    granted = asyncio.run(turn('/consent{"transcript": true}'))
    assert [e.type for e in granted] == ["message"] and granted[0].data["consent"]["granted"] == ["transcript"]
    bad = asyncio.run(turn('/consent{"cookies": true}'))
    assert [(e.type, e.code) for e in bad] == [("error", "invalid_consent")]
    asyncio.run(turn('/consent{"transcript": false}'))
    stored = store.load_all_sync("web:consenting")
    assert [e["event"] for e in stored].count("consent") == 2
    assert choices(stored) == {"transcript": False}
