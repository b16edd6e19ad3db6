"""Finding 3: no order-existence oracle. `verify` never raises (non-ASCII, full-width, lone surrogates, huge input),
compares fixed-length digests whether or not the order exists, and a wrong pair gets one reply and one strike
whether or not the order number exists, through the form and the action alike."""

from __future__ import annotations

import asyncio
import logging

import pytest

from actions.ledger import SqliteLedger
from actions.services import set_ledger
from actions.store_backend import SqliteStoreBackend
from actions.verification import normalise_email, normalise_order_id
from tests.actions.conftest import form_events, run, slots_of

ODD = ["jøhn@example.com", "ＡＶＥＲＹ＿ＳＩＮＧＨ８６＠ｅｘａｍｐｌｅ．ｏｒｇ", "\ud800@example.com", "a\udfffb", "x" * 2_000_000,
       "\x00", "", None, 10445, "é" * 5000, "🙂@example.com", "avery_singh86@example.org\u0000", "ǅ", "ﬀ@example.com"]
EXISTS, MISSING = "10441", "10399"


@pytest.mark.parametrize("value", ODD, ids=range(len(ODD)))
def test_verify_never_raises(backend: SqliteStoreBackend, value) -> None:
    for order_id in (EXISTS, MISSING, value):
        assert backend.verify(order_id, value) in (False, True)
    assert backend.order(value) is None or backend.order(value)["id"] == "10445"


def test_full_width_and_case_variants_are_the_same_email_and_order(backend: SqliteStoreBackend) -> None:
    assert backend.verify("１０４４５", "ＡＶＥＲＹ＿ＳＩＮＧＨ８６＠ｅｘａｍｐｌｅ．ｏｒｇ")
    assert normalise_order_id("＃１０４４５") == "10445" and normalise_order_id("١٠٤٤٥") is None
    assert not backend.verify("10445", "avery_singh86@example.org" + "x" * 2000)


def test_internationalised_emails_are_emails() -> None:
    assert normalise_email("jøhn@example.com") == "jøhn@example.com"
    assert normalise_email(" JØHN@Example.COM. ") == "jøhn@example.com"
    assert normalise_email("ｊｏｈｎ＠ｅｘａｍｐｌｅ．ｃｏｍ") == "john@example.com"
    assert normalise_email("пример@почта.рф") == "пример@почта.рф"
    for bad in ("\ud800@example.com", "a@b", "jøhn", "x" * 300 + "@example.com", "a\x00b@example.com"):
        assert normalise_email(bad) is None, bad


def replies_for(order_id: str, email: str, tmp_path, name: str) -> tuple[list[str], list[str], dict, dict]:
    """The form's and the action's replies and slots for one pair, each on a fresh ledger."""
    set_ledger(SqliteLedger(tmp_path / f"{name}-form.db"))
    slots = {"order_id": order_id, "email": email}
    form = run("validate_order_form", slots, events=form_events(f"where is order {order_id}? my email is {email}",
                                                                slots))
    set_ledger(SqliteLedger(tmp_path / f"{name}-action.db"))
    action = run("action_order_status", slots)
    return ([r.get("text") for r in form["responses"]], [r.get("text") for r in action["responses"]],
            slots_of(form), slots_of(action))


@pytest.mark.parametrize("email", ["jøhn@example.com", "ｊｏｈｎ＠ｅｘａｍｐｌｅ．ｃｏｍ", "someone@example.com",
                                   "🙂@example.com"])
def test_an_existing_and_a_missing_order_get_the_same_reply_and_the_same_strike(email, tmp_path, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    existing = replies_for(EXISTS, email, tmp_path, "exists")
    missing = replies_for(MISSING, email, tmp_path, "missing")
    assert existing == missing
    form_texts, action_texts, form_slots, action_slots = existing
    assert "don't match" in " ".join(form_texts) and "4 tries left" in " ".join(form_texts)
    assert "don't match" in " ".join(action_texts)
    assert form_slots["failed_checks"] == action_slots["failed_checks"] == 1
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


@pytest.mark.slow
def test_the_shoppers_own_words_give_one_reply_for_existing_and_missing_orders(demo_store, demo_parser,
                                                                               tmp_path, caplog) -> None:
    """"where is order N? my email is jøhn@example.com" through the trained NLU, the engine, the form and the
    action: the same reply and one strike whether or not order N exists."""
    from bot.app import build_bot
    from bot.config import Settings
    from bot.dialogue.executor import InProcessExecutor
    from bot.dialogue.store import ConversationStore
    from bot.messages import Inbound
    from bot.responder.responder import Responder

    caplog.set_level(logging.WARNING)
    engine = build_bot(Settings(), demo_store, Responder(None), demo_parser, ConversationStore(),
                       InProcessExecutor()).engine

    async def ask(order_id: str) -> tuple[list[str], int]:
        set_ledger(SqliteLedger(tmp_path / f"{order_id}.db"))
        inbound = Inbound(f"shopper-{order_id}", f"where is order {order_id}? my email is jøhn@example.com", "test",
                          metadata={"ip": "203.0.113.5"})
        outs = [o async for o in engine.handle(inbound)]
        tracker = await engine.tracker(inbound.conversation_id)
        texts = [o.text.replace(order_id, "N") for o in outs if o.type == "message"]
        return texts, int(tracker.slots.get("failed_checks") or 0)

    async def both():
        try:
            return await ask(EXISTS), await ask(MISSING)
        finally:
            await engine.close()

    existing, missing = asyncio.run(both())
    assert existing == missing and existing[1] == 1 and "don't match" in " ".join(existing[0])
    assert "can't reach" not in " ".join(existing[0])
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
