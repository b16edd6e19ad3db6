"""The grounding guard: facts not in the sources are caught, sentence by sentence."""

from __future__ import annotations

from bot.responder.grounding import GroundingGuard, numbers_in, split_sentences

SOURCES = ["Standard shipping costs $4.95 and is free on orders over $75. Orders ship within 2 business days.",
           "Email help@pinecrest.example or visit https://pinecrest.example/help. We are open Monday to Friday."]
NAMES = {"Tern Road Runner 3", "Kestrel", "Moonrise 2 Tent"}


def guard() -> GroundingGuard:
    return GroundingGuard(SOURCES, NAMES, context=["how much is shipping for the Moonrise 2 Tent?"])


def test_supported_sentences_pass() -> None:
    for sentence in ["Shipping is $4.95, and free when you spend over $75.", "Orders ship within two business days.",
                     "You can email help@pinecrest.example.", "We're open Monday to Friday.",
                     "Shipping for the Moonrise 2 Tent is $4.95.", "Happy to help!"]:
        verdict = guard().check(sentence)
        assert verdict.supported, (sentence, verdict)


def test_invented_facts_are_caught() -> None:
    cases = {"Shipping is $5.95.": "5.95", "Orders ship within 3 business days.": "3",
             "Write to support@pinecrest.example.": "support@pinecrest.example",
             "See www.pinecrest.example/deals for more.": "www.pinecrest.example/deals",
             "The Tern Road Runner 3 ships free.": "tern road runner 3", "We are open on Sunday.": "sunday",
             "Ask for Maria Lopez at the Denver store.": "maria lopez", "Returns take thirty days.": "30",
             "You get 15% off.": "15"}
    for sentence, fact in cases.items():
        verdict = guard().check(sentence)
        assert not verdict.supported and fact in verdict.unsupported, (sentence, verdict)


def test_off_topic_sentences_are_dropped_for_low_overlap() -> None:
    verdict = guard().check("As an AI language model I cannot browse the internet or remember personal preferences.")
    assert verdict.low_overlap and not verdict.supported


def test_numbers_are_normalised() -> None:
    assert numbers_in("$1,049.00 or 12.5% for twenty days") == {"1049", "12.5", "20"}


def test_sentence_splitting_keeps_prices_and_decimals() -> None:
    assert split_sentences("It costs $4.95. Free over $75! Is it 2.5 kg? Yes.") == [
        "It costs $4.95.", "Free over $75!", "Is it 2.5 kg?", "Yes."]
