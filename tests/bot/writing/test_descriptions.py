"""Description drafts: the fact templates for every product, the packaged LM on two, and what is dropped."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from benchmarks.writing.independent_check import Store, check
from bot.config import DEMO_KB
from bot.generation.base import Piece, Prompt
from bot.writing.descriptions import DescriptionWriter, needs_description, select_products, write_draft
from tests.support import test_cache_dir


@pytest.fixture(scope="module")
def raw_store() -> Store:
    return Store.load(DEMO_KB)


def test_templates_give_demo_products_complete_copy_with_nothing_unsupported(demo_kb, raw_store) -> None:
    writer = DescriptionWriter(demo_kb)
    for product in demo_kb.products[::4]:  # every 4th, for speed (the benchmark checks all 334)
        draft = asyncio.run(writer.write(product))
        verdict = check(draft.text, product.id, raw_store)
        assert verdict["unsupported"] == [], (product.id, verdict["unsupported"], draft.text)
        assert verdict["coverage"] == 1.0, (product.id, verdict)
        assert draft.dropped == [] and all(c.trace.supported and c.trace.sources for c in draft.sentences)


class InventingLM:
    """A model that writes the same confident inventions whatever it is asked: an adversary for the drop path
    (the packaged LM's own slips vary from run to run; this one's do not)."""

    name, model, device = "scripted", "inventing-lm", "cpu"

    class prompt_format:  # noqa: N801 - the protocol's attribute
        chat_format, context_size, special_tokens = True, 2048, []

        @staticmethod
        def render(messages: list[dict[str, str]]) -> str:
            return "\n".join(m["content"] for m in messages)

        @staticmethod
        def count(text: str) -> int:
            return len(text.split())

    LIES = ["Now only $99.99 with free shipping on every order.", "It comes with a lifetime warranty from Nike."]

    def __init__(self) -> None:
        self.calls = 0

    async def stream(self, prompt: Prompt, max_tokens: int) -> AsyncIterator[Piece]:
        self.calls += 1
        yield Piece(self.LIES[self.calls % 2])

    def expected_wait_ms(self) -> float:
        return 0.0

    def close(self) -> None:
        pass


def test_invented_sentences_are_dropped_listed_with_reasons_and_replaced_by_templates(demo_kb, raw_store,
                                                                                      tmp_path) -> None:
    draft = asyncio.run(DescriptionWriter(demo_kb, InventingLM(), candidates=2).write(demo_kb.product("P1001")))
    assert check(draft.text, "P1001", raw_store)["unsupported"] == []
    assert all(c.origin == "template" for c in draft.sentences)
    listed = {c.text: c.trace.unsupported for c in draft.dropped}
    assert set(listed) == set(InventingLM.LIES)
    assert {"99.99", "free shipping"} <= set(listed[InventingLM.LIES[0]])
    assert {"lifetime", "nike"} <= set(listed[InventingLM.LIES[1]])
    saved = json.loads(write_draft(draft, tmp_path, "json").read_text())
    assert {d["text"] for d in saved["dropped"]} == set(InventingLM.LIES) and all(d["reasons"] for d in saved["dropped"])
    markdown = write_draft(draft, tmp_path, "md").read_text()
    assert "## Dropped sentences" in markdown and "lifetime" in markdown and "sources: " in markdown


@pytest.fixture(scope="module")
def packaged_lm():
    """The project's default engine and model: SmolLM2-135M (the packaged GGUF) on llama.cpp."""
    from bot.config import Settings
    from bot.generation.factory import open_generator

    # One thread: on a shared machine llama.cpp's threads waiting on each other cost far more than they give.
    generator = open_generator(Settings().responder.model_copy(update={"threads": 1}), "cpu", test_cache_dir())
    yield generator
    generator.close()


@pytest.mark.parametrize("product_id", ["P1001", "P1241"])
def test_the_packaged_lm_writes_copy_with_no_unsupported_fact(demo_kb, raw_store, packaged_lm, product_id) -> None:
    draft = asyncio.run(DescriptionWriter(demo_kb, packaged_lm, candidates=1).write(demo_kb.product(product_id)))
    assert draft.lm_tried > 0
    assert check(draft.text, product_id, raw_store)["unsupported"] == [], draft.text
    assert all(c.trace.supported and c.trace.sources for c in draft.sentences)
    assert all(c.trace.reasons for c in draft.dropped)
    assert draft.coverage["share"] == 1.0


def test_products_are_chosen_by_id_or_by_a_short_description(demo_kb) -> None:
    assert [p.id for p in select_products(demo_kb, ["P1001", " P1241"])] == ["P1001", "P1241"]
    with pytest.raises(ValueError, match="P0000"):
        select_products(demo_kb, ["P1001", "P0000"])
    missing = select_products(demo_kb, missing=True)
    assert missing and all(needs_description(p) for p in missing) and len(missing) < len(demo_kb.products)
    assert not needs_description(demo_kb.product("P1001"))
