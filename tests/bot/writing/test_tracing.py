"""Tracing written sentences to a product's facts: what no fact holds is dropped, with the reason."""

from __future__ import annotations

import pytest

from bot.writing.facts import product_facts
from bot.writing.tracing import Tracer, contrast_vocabulary


@pytest.fixture(scope="module")
def tern(demo_kb):
    """The Tern Road Runner 3: $156.99, women's, not waterproof, green/purple/yellow, Final Sale."""
    from bot.writing.descriptions import DescriptionWriter

    writer = DescriptionWriter(demo_kb)
    facts = product_facts(demo_kb.product("P1001"), demo_kb)
    return writer.tracer(facts)


def test_a_sentence_of_facts_is_traced_to_each_fact_it_uses(tern: Tracer) -> None:
    trace = tern.trace("It is made from recycled knit upper with a supercritical foam midsole and weighs 220 g.")
    assert trace.supported and {"attr:material", "attr:weight_g"} <= set(trace.sources)
    trace = tern.trace("The Tern Road Runner 3 from Kestrel is a pair of women's road running shoes.")
    assert trace.supported and {"title", "brand", "category", "attr:gender"} <= set(trace.sources)


@pytest.mark.parametrize("sentence, unsupported", [
    ("It costs $129.99.", "129.99"),                                 # an invented price
    ("It is $220.", "$220"),                                         # the weight's number, said as a price
    ("Made by Nike for serious runners.", "nike"),                  # an invented brand
    ("The Lark Road Runner 5 is its faster sibling.", "lark road runner 5"),  # another product of the catalog
    ("It comes with a lifetime warranty.", "lifetime"),
    ("Enjoy free shipping on every order.", "free shipping"),       # the store ships free from $75.00 only
    ("It is covered by a 5-year limited warranty.", "5-year"),       # running shoes get the 1-year warranty
    ("It is waterproof for rainy runs.", "waterproof"),             # the catalog says waterproof: false
    ("It comes in green, purple and black.", "black"),              # a colour of other products
    ("It is made from protein-lumber foam.", "lumber"),             # a word no fact holds
    ("Shoppers rate it 3.9 out of 10.", "out of 10"),
    ('One reviewer says: "Best shoe I ever owned, lasts forever."', "forever"),
])
def test_an_unsupported_sentence_is_rejected_naming_what_no_fact_holds(tern: Tracer, sentence: str,
                                                                        unsupported: str) -> None:
    trace = tern.trace(sentence)
    assert not trace.supported
    assert any(unsupported in item for item in trace.unsupported), trace.unsupported
    assert len(trace.reasons) == len(trace.unsupported) and all(trace.reasons)


def test_a_negated_missing_feature_and_the_free_shipping_threshold_are_supported(tern: Tracer) -> None:
    assert tern.trace("It is not waterproof.").supported
    assert tern.trace("At $156.99, it ships free: orders of $75.00 or more ship free.").supported


def test_a_quotation_must_be_word_for_word_a_review(demo_kb) -> None:
    from bot.writing.descriptions import DescriptionWriter

    facts = product_facts(demo_kb.product("P1001"), demo_kb)
    quotes = [f.values[0] for f in facts.facts if f.kind == "review"]
    tracer = DescriptionWriter(demo_kb).tracer(facts)
    if quotes:
        assert tracer.trace(f'One reviewer says: "{quotes[0]}"').supported
    assert not tracer.trace('One reviewer says: "These shoes are simply perfect in every way."').supported


def test_contrast_words_are_the_catalogs_colours_genders_and_materials(demo_kb) -> None:
    vocabulary = contrast_vocabulary(demo_kb.products)
    assert {"black", "navy", "women", "men", "leather", "merino"} <= vocabulary
    assert "with" not in vocabulary


def test_description_claims_are_withheld_from_the_facts(demo_kb) -> None:
    # P1305's page promises "a lifetime guarantee against holes": a promise only the store's facts may make.
    facts = product_facts(demo_kb.product("P1305"), demo_kb)
    assert any("lifetime" in sentence for sentence, _ in facts.withheld)
    assert not any("lifetime" in f.text for f in facts.facts)
