"""Readable answers about one product from its record (the demo catalog), never a field dump."""

from __future__ import annotations

import re

from bot.responder.product_answer import product_answer


def test_what_does_it_do_reads_as_sentences(demo_kb) -> None:
    bank = demo_kb.product("P1256")   # the demo's stand-in for "what does the Jackery Explorer 550 do?"
    answer = product_answer("what does the Sonic 26800 Power Bank do?", bank)
    assert answer.startswith(bank.description.split(". ")[0])
    assert "It costs $118.99 and is in stock." in answer and "Its capacity is 26800 mAh." in answer
    assert not re.search(r"\b(?:colors|sizes|gender|material|weight g):|;", answer)


def test_a_property_question_answers_that_property_first(demo_kb) -> None:
    shoe = demo_kb.product("P1001")
    assert product_answer("is the Tern Road Runner 3 waterproof?", shoe).startswith(
        "No, the Tern Road Runner 3 is not waterproof.")
    tent = demo_kb.product("P1200")
    assert product_answer("how heavy is the Moonrise UL2?", tent).startswith("It weighs 1915 g (67.5 oz).")
    boot = demo_kb.product("P1036")
    assert product_answer("is it waterproof in the rain?", boot).startswith("Yes, the Caribou Boot is waterproof.")


def test_a_fact_the_record_lacks_is_said_not_invented(demo_kb) -> None:
    bottle = next(p for p in demo_kb.products if "waterproof" not in p.attributes)
    answer = product_answer(f"is the {bottle.title} waterproof?", bottle)
    assert answer.startswith(f"The catalog doesn't say whether the {bottle.title} is waterproof.")
    assert "doesn't say" not in product_answer(f"is the {bottle.title} good for a water bottle?", bottle)
