"""`shopbot privacy export` and `erase` on a real store: conversations written by the demo engine on two channels
for one shopper (an email slot, upper-case and full-width mentions), another shopper beside them, and the JSON log
file; on SQLite and on the machine's PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from actions.ledger import Limit
from actions.services import get_ledger
from bot.cli import main
from bot.dialogue.store import ConversationStore
from bot.privacy import logfile
from bot.privacy.ledger import LedgerRecords
from bot.privacy.shopper import find_conversation_ids
from tests.bot.privacy.conftest import say, sqlite_bytes, stored_text
from tests.support import POSTGRES_URL, need

AVERY = "avery_singh86@example.org"     # owns order 10445 in the demo back-end
CARMEN = "cramirez@example.com"         # owns order 10401


def write_conversations(engine, avery: str, web_sender: str, rest_sender: str, other_sender: str,
                        log_file: Path) -> None:
    """Avery gets an order number wrong, then verifies her order on the widget, writes again by REST (full-width
    email) and on the widget in upper case; Carmen verifies her own order. The server logs lines naming some."""
    handler = logfile.attach(log_file)
    log = logging.getLogger("shopbot.privacy_test")
    log.setLevel(logging.INFO)

    async def chat() -> None:
        await say(engine, '/order_status{"order_id": "10401"}', web_sender, "web")   # not Avery's: a strike
        assert "don't match" in await say(engine, f'/inform{{"email": "{avery}"}}', web_sender, "web")
        await say(engine, '/inform{"order_id": "10445"}', web_sender, "web")
        await say(engine, f'/inform{{"email": "{avery}"}}', web_sender, "web")
        wide = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in avery)   # full-width forms
        await say(engine, f"hello, my email is {wide}, did my refund go through?", rest_sender, "rest")
        await say(engine, f"also: {avery.upper()} is me", web_sender, "web")
        await say(engine, '/order_status{"order_id": "10401"}', other_sender, "web")
        await say(engine, f'/inform{{"email": "{CARMEN}"}}', other_sender, "web")

    asyncio.run(chat())
    log.info("websocket %s closed during a turn: ConnectionResetError", web_sender)
    log.warning("turn failed in rest:%s", rest_sender)
    log.info("websocket %s closed during a turn: ConnectionResetError", other_sender)
    log.info("retention: nothing to do")
    logfile.detach(handler)


def run_cli(args: list[str], database: str, log_file: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SHOPBOT_DATABASE_URL", database)
    monkeypatch.setenv("SHOPBOT_GUARD_DB", get_ledger().path)   # the ledger the engine's identity checks used
    monkeypatch.setenv("SHOPBOT_LOG_FILE", str(log_file))
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return result


def test_export_then_erase_on_sqlite(make_engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, log_file = tmp_path / "conversations.db", tmp_path / "logs" / "shopbot.jsonl"
    database = f"sqlite:///{path}"
    engine = make_engine(store=ConversationStore(database))
    web, rest, other = uuid.uuid4().hex, "rest-shopper-17", uuid.uuid4().hex
    write_conversations(engine, AVERY, web, rest, other, log_file)
    engine.store.close()

    out = tmp_path / "export.json"
    run_cli(["privacy", "export", "--email", "Avery_Singh86@Example.org", "--json", str(out)], database, log_file,
            monkeypatch)
    export = json.loads(out.read_text(encoding="utf-8"))
    by_id = {c["id"]: c for c in export["conversations"]}
    assert sorted(by_id) == sorted([f"web:{web}", f"rest:{rest}"])
    assert by_id[f"web:{web}"]["verified_orders"] == ["10445"] and by_id[f"rest:{rest}"]["verified_orders"] == []
    assert by_id[f"rest:{rest}"]["channel"] == "rest" and by_id[f"web:{web}"]["sender_id"] == web
    assert any(e["event"] == "user" and "refund" in e["text"] for e in by_id[f"rest:{rest}"]["events"])
    assert export["counts"]["conversations"] == 2 and export["counts"]["log_lines"] == 2
    assert export["counts"]["events"] == sum(len(c["events"]) for c in export["conversations"])
    assert all(other not in line for line in export["log_lines"])

    records = LedgerRecords(get_ledger())
    key = records.key(AVERY)
    assert export["records"]["verification_ledger"] == [{"key": key, "failed_checks": 1}]
    assert AVERY not in json.dumps(export["records"])   # the ledger holds a keyed hash, never the email

    result = run_cli(["privacy", "erase", "--email", AVERY, "--yes"], database, log_file, monkeypatch)
    assert (f"Erased 2 conversations, {export['counts']['events']} events, 2 log lines, 1 verification ledger"
            in result.output)
    assert get_ledger().counts({key: Limit(5, 86_400)}) == {key: 0}

    store = ConversationStore(database)
    assert AVERY not in stored_text(store) and web not in stored_text(store) and rest not in stored_text(store)
    assert store.load_all_sync(f"web:{other}") and CARMEN in stored_text(store)   # the other shopper is kept
    assert find_conversation_ids(store, AVERY) == []
    store.close()
    raw = sqlite_bytes(path).lower()
    assert AVERY.encode() not in raw and web.encode() not in raw and rest.encode() not in raw
    lines = log_file.read_text(encoding="utf-8").splitlines()
    assert not [line for line in lines if web in line or rest in line]
    assert [line for line in lines if other in line] and [line for line in lines if "nothing to do" in line]

    again = run_cli(["privacy", "erase", "--email", AVERY, "--yes"], database, log_file, monkeypatch)
    assert "Nothing kept names" in again.output


def test_export_then_erase_on_postgres(make_engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    need(5432, "PostgreSQL")
    email = f"shopper.{uuid.uuid4().hex[:10]}@example.net"   # unique: the database is shared with other tests
    log_file = tmp_path / "shopbot.jsonl"
    engine = make_engine(store=ConversationStore(POSTGRES_URL))
    web, rest, other = uuid.uuid4().hex, uuid.uuid4().hex, uuid.uuid4().hex
    write_conversations(engine, email, web, rest, other, log_file)
    engine.store.close()

    export = json.loads(run_cli(["privacy", "export", "--email", email], POSTGRES_URL, log_file,
                                monkeypatch).output)
    assert sorted(c["id"] for c in export["conversations"]) == sorted([f"web:{web}", f"rest:{rest}"])
    erased = run_cli(["privacy", "erase", "--email", email, "--yes"], POSTGRES_URL, log_file, monkeypatch)
    assert "Erased 2 conversations" in erased.output

    store = ConversationStore(POSTGRES_URL)
    try:
        text = stored_text(store)
        assert email not in text and web not in text and rest not in text
        assert store.load_all_sync(f"web:{other}")
    finally:
        store.close()


def test_every_conversation_of_the_same_sender_on_the_same_channel_goes_with_it(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path / "conversations.db")
    user = {"event": "user", "text": "I am a@example.org", "timestamp": 1.0}
    store.append_sync("web:s1", [user], "web", "s1")
    store.append_sync("web:s1/2", [{**user, "text": "hello again"}], "web", "s1")   # a later id, same sender
    store.append_sync("rest:s1", [{**user, "text": "hello"}], "rest", "s1")          # another channel
    store.append_sync("web:b@example.org", [{**user, "text": "I am b@example.org"}], "web", "x")
    assert find_conversation_ids(store, "A@EXAMPLE.ORG") == ["web:s1", "web:s1/2"]
    with pytest.raises(ValueError, match="not an email"):
        find_conversation_ids(store, "example.org")
    store.close()


def test_a_bad_email_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'c.db'}")
    result = CliRunner().invoke(main, ["privacy", "export", "--email", "not an email"])
    assert result.exit_code == 2 and "not an email address" in result.output and "Traceback" not in result.output
