"""The demo story suite through the real engine with the demo store's trained NLU: every step passes and no
conversation ever sees an order it has not verified. Also checks that the leak check itself catches a leak."""

from __future__ import annotations

import asyncio
import json

import pytest
from rasa_sdk.events import BotUttered, SlotSet

from bot.config import DEMO_KB
from bot.dialogue.stories import OrderLeakCheck, load_stories, run_stories

ORDERS = json.loads((DEMO_KB / "orders.json").read_text(encoding="utf-8"))["orders"]


@pytest.mark.slow
def test_every_demo_story_passes_and_nothing_leaks(make_engine, demo_parser) -> None:
    suite = load_stories(DEMO_KB / "stories.yml")
    assert len(suite.stories) >= 40
    report = asyncio.run(run_stories(make_engine(parser=demo_parser), suite, DEMO_KB / "orders.json"))
    failures = [f"{r.story} / {r.index + 1} {r.user!r}: {r.problems} -> {r.replies}" for r in report.results
                if not r.passed]
    assert not failures, "\n".join(failures)
    assert report.leaks == 0 and report.summary()["stories_passed"] == len(suite.stories)


def test_the_leak_check_catches_an_unverified_order_and_allows_a_verified_one() -> None:
    check = OrderLeakCheck(ORDERS)
    leaked = [BotUttered("Order 10445 shipped with DHL, tracking number 9126145823.")]
    assert len(check.leaks(leaked)) == 2  # its id and its tracking number
    verified = [SlotSet("verified_order", "10445"), *leaked]
    assert check.leaks(verified) == []
    other = [SlotSet("verified_order", "10461"), BotUttered("your tracking number is 9126145823")]
    assert check.leaks(other) == ["order 10445: '9126145823' in 'your tracking number is 9126145823'"]
