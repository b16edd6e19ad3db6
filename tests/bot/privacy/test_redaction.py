"""Stored transcripts: card numbers never reach the database; emails and phone numbers are redacted from the
shopper's and the bot's text when `privacy.redact_transcripts` is on, while the email slot stays (state)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.config import PrivacySettings, Settings
from bot.dialogue.store import ConversationStore
from bot.privacy.redaction import TranscriptRedactor, redact_cards
from tests.bot.privacy.conftest import say, sqlite_bytes, stored_text


def test_a_card_number_typed_in_a_turn_never_reaches_the_sqlite_file(make_engine, tmp_path: Path) -> None:
    path = tmp_path / "conversations.db"
    engine = make_engine(store=ConversationStore(path))

    async def chat() -> None:
        await say(engine, "my card is 4111 1111 1111 1111", "card-shopper", "web")
        await say(engine, "sorry, it is 5500-0000-0000-0004 actually", "card-shopper", "web")

    asyncio.run(chat())
    stored = engine.store.load_all_sync("web:card-shopper")
    engine.store.close()
    texts = [e["text"] for e in stored if e["event"] == "user"]
    assert texts == ["my card is [card]", "sorry, it is [card] actually"]
    raw = sqlite_bytes(path)
    for number in (b"4111 1111 1111 1111", b"4111111111111111", b"5500-0000-0000-0004", b"5500000000000004"):
        assert number not in raw


def test_cards_are_redacted_everywhere_in_an_event_but_the_message_id() -> None:
    event = {"event": "slot", "name": "new_address", "value": "4111 1111 1111 1111", "timestamp": 1.0,
             "metadata": {"message_id": "4111111111111111"}}
    redacted = TranscriptRedactor()([event])[0]
    assert redacted["value"] == "[card]" and redacted["metadata"]["message_id"] == "4111111111111111"
    assert event["value"] == "4111 1111 1111 1111"  # the turn in memory is not changed
    assert redact_cards("call +1 604-555-0140 or mail a@b.org") == "call +1 604-555-0140 or mail a@b.org"


def test_redacted_transcripts_keep_the_email_slot_and_still_verify_the_order(make_engine, tmp_path: Path) -> None:
    from bot.app import conversation_store

    settings = Settings(data_dir=tmp_path, privacy=PrivacySettings(redact_transcripts=True))
    store = conversation_store(settings)  # what `shopbot serve` builds from the settings
    engine = make_engine(store=store)

    async def chat() -> str:
        await say(engine, '/order_status{"order_id": "10445"}', "pii", "rest")
        return await say(engine, "it's avery_singh86@example.org, call me on +1 604-555-0140", "pii", "rest")

    reply = asyncio.run(chat())
    assert "Order 10445 shipped" in reply
    stored = store.load_all_sync("rest:pii")
    user = [e for e in stored if e["event"] == "user"][-1]
    assert user["text"] == "it's [email], call me on [phone]"
    assert "avery_singh86" not in str(user) and "604-555" not in str(user)
    slots = {e["name"]: e["value"] for e in stored if e["event"] == "slot"}
    assert slots["email"] == "avery_singh86@example.org" and slots["verified_order"] == "10445"
    assert "avery_singh86" not in stored_text(store).replace('"value": "avery_singh86@example.org"', "")
    store.close()


def test_without_redact_transcripts_the_text_is_kept_as_written() -> None:
    event = {"event": "user", "text": "mail a@b.org or call +44 161 555 0165", "timestamp": 1.0}
    assert TranscriptRedactor(pii=False)([event])[0]["text"] == event["text"]
    assert TranscriptRedactor(pii=True)([event])[0]["text"] == "mail [email] or call [phone]"
