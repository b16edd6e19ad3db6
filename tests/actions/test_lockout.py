"""Finding 1: the lock-out lives in a ledger outside the conversation (per order id, email, address and
conversation), so /restart, a new session, a new sender or another channel gets no fresh tries. Every check goes
through rasa-sdk's own ActionExecutor, on the real SQLite ledger (and the machine's Redis)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from actions.ledger import Limit, RedisLedger, SqliteLedger
from actions.services import set_backend, set_ledger
from actions.store_backend import SqliteStoreBackend
from tests.actions.conftest import form_events, run, slots_of, text_of, user_event
from tests.support import PROJECT_ROOT, REDIS_URL, demo_backend, need

LOCKED = "can't look up orders"


class CountingBackend(SqliteStoreBackend):
    """The real demo back-end, counting how often it is asked to verify a pair."""

    verifications = 0

    def verify(self, order_id: str, email: str) -> bool:
        self.verifications += 1
        return super().verify(order_id, email)


@pytest.fixture()
def counting() -> CountingBackend:
    backend = demo_backend(backend=CountingBackend)
    set_backend(backend)
    return backend


def check(order_id: str, email: str, sender: str = "websocket:s1", ip: str | None = "203.0.113.7",
          channel: str = "websocket") -> dict[str, Any]:
    """One identity check by the form validator, as the engine sends it when both slots arrive."""
    slots = {"order_id": order_id, "email": email}
    return run("validate_order_form", slots, sender=sender, events=form_events(f"order {order_id}, {email}", slots, ip,
                                                                               channel))


def test_five_failures_then_a_restart_still_refuse_the_right_pair(counting: CountingBackend) -> None:
    for n in range(5):
        out = check("10445", f"wrong{n}@example.com")
    assert LOCKED in text_of(out)
    asked = counting.verifications
    # /restart: the same conversation id with a tracker that has lost every slot (failed_checks back to 0)
    fresh = run("action_order_status", {"order_id": "10445", "email": "avery_singh86@example.org",
                                        "failed_checks": 0}, sender="websocket:s1")
    assert LOCKED in text_of(fresh) and "DHL" not in text_of(fresh) and "9126145823" not in text_of(fresh)
    assert fresh["responses"][0]["buttons"] == [{"title": "Talk to a person", "payload": "/human_handoff"}]
    assert "verified_order" not in {k for k, v in slots_of(fresh).items() if v}
    assert counting.verifications == asked  # refused without asking the back-end
    form = check("10445", "avery_singh86@example.org")
    assert LOCKED in text_of(form) and {"event": "active_loop", "timestamp": None, "name": None} in form["events"]


def test_a_new_conversation_a_new_sender_or_another_channel_gets_no_fresh_tries() -> None:
    for n in range(5):
        check("10445", f"wrong{n}@example.com", sender="websocket:first")
    for sender, channel, ip in (("websocket:second", "websocket", "203.0.113.7"), ("rest:new-sender", "rest", "198.51.100.9"),
                                ("socketio:sid-3", "socketio", None), ("telegram:555", "telegram", None)):
        out = check("10445", "avery_singh86@example.org", sender=sender, ip=ip, channel=channel)
        assert LOCKED in text_of(out) and "verified_order" not in slots_of(out), sender


def test_guessing_order_numbers_with_a_known_email_stops_after_five(counting: CountingBackend) -> None:
    """The attack of the review: all three of a customer's orders found in 41 guesses, one conversation each."""
    found, mismatches = [], 0
    channels = ["websocket", "rest", "socketio", "telegram"]
    for n, order_id in enumerate(range(10441, 10482)):
        channel = channels[n % 4]
        ip = None if channel in ("socketio", "telegram") else f"198.51.{n}.{n + 1}"
        out = check(str(order_id), "cramirez@example.com", sender=f"{channel}:guess-{n}", ip=ip, channel=channel)
        if slots_of(out).get("verified_order"):
            found.append(order_id)
        mismatches += "don't match" in text_of(out)
    assert found == [] and mismatches <= 5 and counting.verifications <= 5  # cramirez's 10450 is never reached


def test_other_spellings_of_the_email_and_the_order_number_buy_no_more_guesses(counting: CountingBackend) -> None:
    """An attacker who knows the email writes it (and the order numbers) differently on every try, from a new
    session, channel and address each time: the ledger counts the canonical email, so the sixth try, with the right
    order number in yet another spelling, is still refused without asking the back-end."""
    spellings = ["CRAMIREZ@EXAMPLE.COM", "ｃｒａｍｉｒｅｚ＠ｅｘａｍｐｌｅ．ｃｏｍ", "<cramirez@example.com>.",
                 " CraMirez@Example.Com ", "cramirez@ＥＸＡＭＰＬＥ.com"]
    guesses = ["10441", "#10442", "１０４４３", "＃10444", " 10446 "]
    for n, (email, order_id) in enumerate(zip(spellings, guesses)):
        out = check(order_id, email, sender=f"rest:spelling-{n}", ip=f"198.51.100.{n + 1}", channel="rest")
        assert "don't match" in text_of(out) or LOCKED in text_of(out)
    asked = counting.verifications
    right = check("＃１０４５０", "Cramirez@Example.com", sender="websocket:spelling-last", ip="203.0.113.99")
    assert LOCKED in text_of(right) and not slots_of(right).get("verified_order")
    assert counting.verifications == asked   # refused before the back-end is asked


def test_one_address_gets_at_most_twenty_failed_checks_an_hour(tmp_path: Path) -> None:
    now = [1_800_000_000.0]
    set_ledger(SqliteLedger(tmp_path / "clocked.db", clock=lambda: now[0]))
    replies = [text_of(check(str(10400 + n), f"person{n}@example.com", sender=f"rest:s{n}", ip="192.0.2.50"))
               for n in range(25)]
    assert sum("don't match" in r for r in replies[:20]) == 19 and LOCKED in replies[19]  # the 20th uses the last try
    assert all(LOCKED in r for r in replies[20:])
    assert "don't match" in text_of(check("10430", "someone@example.com", sender="rest:other", ip="192.0.2.51"))
    now[0] += 3601  # an hour later the address may try again (the order and email keys are their own)
    assert "don't match" in text_of(check("10431", "another@example.com", sender="rest:s99", ip="192.0.2.50"))


def test_ipv6_neighbours_count_as_one_address(tmp_path: Path) -> None:
    replies = [text_of(check(str(10400 + n), f"p{n}@example.com", sender=f"ws:{n}", ip=f"2001:db8:1:2::{n + 1:x}"))
               for n in range(21)]
    assert LOCKED in replies[20]


def test_a_success_does_not_wipe_other_keys_strikes() -> None:
    for n in range(4):
        check("10445", f"wrong{n}@example.com")
    assert slots_of(check("10461", "ifischer@example.com"))["verified_order"] == "10461"  # their own order
    out = check("10445", "wrong5@example.com")
    assert LOCKED in text_of(out)  # the fifth failure of the conversation and of order 10445
    assert LOCKED in text_of(check("10445", "avery_singh86@example.org", sender="ws:elsewhere", ip="192.0.2.99"))


def test_the_tries_left_wording_comes_from_the_ledger_not_the_slot() -> None:
    check("10445", "a@example.com", sender="ws:one")
    check("10445", "b@example.com", sender="ws:two", ip="192.0.2.1")
    out = run("action_order_status", {"order_id": "10445", "email": "c@example.com", "failed_checks": 0},
              sender="ws:three", events=[user_event("10445", "192.0.2.2")])
    assert "2 tries left" in text_of(out) and slots_of(out)["failed_checks"] == 3


def test_the_ledger_keeps_no_email_and_no_address(ledger: SqliteLedger, tmp_path: Path) -> None:
    check("10445", "avery.secret@example.org", ip="203.0.113.77")
    raw = (tmp_path / "verification.db").read_bytes() + Path(f"{tmp_path / 'verification.db'}-wal").read_bytes()
    assert b"avery.secret" not in raw and b"203.0.113.77" not in raw and b"10445" not in raw


RESERVE_MANY = """
import sys
from actions.ledger import Limit, SqliteLedger
ledger = SqliteLedger(sys.argv[1])
print(sum(ledger.reserve({"order:x": Limit(5, 3600)}) is not None for _ in range(10)))
"""


def test_several_processes_sharing_the_sqlite_ledger_never_pass_a_limit(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.db")
    SqliteLedger(path).close()
    workers = [subprocess.Popen([sys.executable, "-c", RESERVE_MANY, path], cwd=PROJECT_ROOT, stdout=subprocess.PIPE,
                                env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}) for _ in range(4)]
    granted = [int(worker.communicate(timeout=120)[0]) for worker in workers]
    assert sum(granted) == 5


@pytest.fixture()
def redis_ledger():
    need(6379, "Redis")
    prefix = f"shopbot:test:{uuid.uuid4().hex}:"
    ledgers = [RedisLedger(REDIS_URL, prefix=prefix), RedisLedger(REDIS_URL, prefix=prefix)]  # two "processes"
    yield ledgers
    client = ledgers[0]._redis
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)
    for ledger in ledgers:
        ledger.close()


def test_the_redis_ledger_locks_across_processes_and_restarts(redis_ledger) -> None:
    first, second = redis_ledger
    assert first.secret() == second.secret()
    set_ledger(first)
    for n in range(5):
        check("10445", f"wrong{n}@example.com", sender=f"ws:{n}", ip=f"192.0.2.{n}")
    set_ledger(second)  # another action server on the same Redis
    out = run("action_order_status", {"order_id": "10445", "email": "avery_singh86@example.org"},
              sender="rest:someone-new", events=[user_event("10445", "198.51.100.200", channel="rest")])
    assert LOCKED in text_of(out) and "DHL" not in text_of(out)
    ok = check("10461", "ifischer@example.com", sender="ws:fresh", ip="198.51.100.201")
    assert slots_of(ok)["verified_order"] == "10461"


def test_the_redis_ledger_reserves_atomically(redis_ledger) -> None:
    first, second = redis_ledger
    keys = {"order:y": Limit(5, 3600), "address:z": Limit(20, 3600)}
    tokens = [ledger.reserve(keys) for _ in range(4) for ledger in (first, second)]
    assert sum(t is not None for t in tokens) == 5
    second.release(next(t for t in tokens if t), keys)
    assert first.counts(keys) == {"order:y": 4, "address:z": 4}
