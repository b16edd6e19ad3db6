"""The GPT-2 path end to end: a tiny GPT2LMHeadModel, fine-tuned with `train_responder` to answer from its
sources, loaded by folder like any causal LM, then streamed through the responder and its guard."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from bot.responder.lm import load_language_model
from bot.responder.prompt import ReplyRequest, Source
from bot.responder.responder import Responder
from bot.responder.training import ResponderTrainConfig, TrainingExample, train_responder
from tests.bot.responder.tiny_gpt2 import build_tiny_gpt2

SOURCES = [Source("faq:refunds", "How long do refunds take?", "Refunds reach your card within 5 business days."),
           Source("faq:shipping", "How much is shipping?", "Shipping is $4.95, free over $75."),
           Source("faq:returns", "Can I return worn shoes?", "Unworn items can be returned within 30 days.")]
QUESTIONS = {"faq:refunds": "when do i get my money back", "faq:shipping": "what does delivery cost",
             "faq:returns": "can i send back shoes i wore"}


def examples() -> list[TrainingExample]:
    out = []
    for source in SOURCES:
        others = [s for s in SOURCES if s is not source]
        for order in ([source, *others], [others[0], source, others[1]]):
            out.append(TrainingExample(ReplyRequest(QUESTIONS[source.id], order, store="Pinecrest"), source.text))
    return out


@pytest.fixture(scope="module")
def trained_gpt2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("gpt2")
    corpus = [s.text for s in SOURCES] + [s.title for s in SOURCES] + list(QUESTIONS.values())
    build_tiny_gpt2(base / "untrained", corpus)
    lm = load_language_model(str(base / "untrained"), "cpu")
    assert not lm.chat_format  # GPT-2: plain prompt, no chat template
    metadata = train_responder(lm, examples(), base / "tuned",
                               ResponderTrainConfig(steps=150, batch_size=6, learning_rate=3e-3, lora=False),
                               prompt_tokens=400)
    assert metadata["last_loss"] < metadata["first_loss"] / 5
    return base / "tuned"


def test_fine_tuned_gpt2_answers_from_its_source_and_cites_it(trained_gpt2: Path) -> None:
    lm = load_language_model(str(trained_gpt2), "cpu")
    responder = Responder(lm, max_new_tokens=40, prompt_tokens=400)

    async def ask(question: str, sources: list[Source]) -> tuple[list[str], object]:
        stream = responder.stream(ReplyRequest(question, sources, store="Pinecrest"))
        chunks = [chunk async for chunk in stream]
        return chunks, stream.reply

    chunks, reply = asyncio.run(ask(QUESTIONS["faq:shipping"], [SOURCES[1], SOURCES[0], SOURCES[2]]))
    assert not reply.fallback and reply.text == "Shipping is $4.95, free over $75."
    assert chunks == ["Shipping is $4.95, free over $75. "]  # streamed sentence by sentence
    assert reply.sources[0] == "faq:shipping" and reply.generated_tokens > 5
    assert reply.first_chunk_ms is not None and reply.first_chunk_ms <= reply.total_ms


def test_a_sentence_the_sources_do_not_support_is_dropped_and_the_source_text_stands_in(trained_gpt2: Path) -> None:
    lm = load_language_model(str(trained_gpt2), "cpu")
    responder = Responder(lm, max_new_tokens=40, prompt_tokens=400)
    # The model learnt to say "Shipping is $4.95 ..."; here the only source says something else, so its
    # memorised price is unsupported: the guard drops it and the reply falls back to the source's own words.
    other = Source("faq:shipping", "How much is shipping?", "Shipping is a flat fee shown at checkout.")
    reply = asyncio.run(responder.respond(ReplyRequest(QUESTIONS["faq:shipping"], [other], store="Pinecrest")))
    assert reply.fallback and reply.text == other.text and reply.sources == ["faq:shipping"]
    assert any(d.sentence.startswith("Shipping is $4") and d.unsupported for d in reply.dropped), reply.dropped


def test_numbers_the_shopper_wrote_do_not_make_the_models_sentence_grounded(trained_gpt2: Path) -> None:
    lm = load_language_model(str(trained_gpt2), "cpu")
    responder = Responder(lm, max_new_tokens=40, prompt_tokens=400)
    # The shopper states a price; the only source has none. The model copies the shopper's "$75" ("Shipping is
    # $75."), which the guard used to take as support because the question and earlier turns were in its context
    # (issue 13). Only the sources are support now: the sentence is dropped and the source's own words stand in.
    other = Source("faq:shipping", "How much is shipping?", "Shipping is a flat fee shown at checkout.")
    for request in [ReplyRequest("what does delivery cost, $4.95 free over $75?", [other], store="Pinecrest"),
                    ReplyRequest(QUESTIONS["faq:shipping"], [other], [("user", "shipping is $4.95, free over $75")],
                                 store="Pinecrest")]:
        reply = asyncio.run(responder.respond(request))
        assert reply.fallback and reply.text == other.text, reply
        assert any("75" in d.unsupported for d in reply.dropped), reply.dropped


def test_closing_the_stream_stops_generation(tmp_path: Path) -> None:
    folder = build_tiny_gpt2(tmp_path / "random", ["some words for a vocabulary"], layers=1)
    lm = load_language_model(str(folder), "cpu")
    responder = Responder(lm, max_new_tokens=400, prompt_tokens=100)  # prompt + 400 tokens fit the 512 positions
    stream = responder.stream(ReplyRequest("hello", SOURCES[:1]))

    async def read_briefly() -> None:
        consumer = asyncio.ensure_future(stream.__aiter__().__anext__())
        while stream.generated_tokens < 5:  # generation has started (no sentence is complete yet)
            await asyncio.sleep(0.002)
        consumer.cancel()
        with pytest.raises((asyncio.CancelledError, StopAsyncIteration)):
            await consumer
        await stream.aclose()

    asyncio.run(read_briefly())
    produced = stream.generated_tokens
    assert 0 < produced < 400
    asyncio.run(asyncio.sleep(0.2))
    assert stream.generated_tokens == produced  # nothing more was generated after the close


def test_lora_adapter_trains_saves_and_loads(tmp_path: Path) -> None:
    corpus = [s.text for s in SOURCES] + list(QUESTIONS.values())
    folder = build_tiny_gpt2(tmp_path / "base", corpus)
    lm = load_language_model(str(folder), "cpu")
    metadata = train_responder(lm, examples(), tmp_path / "adapter", ResponderTrainConfig(steps=3, batch_size=2),
                               prompt_tokens=400)
    assert (tmp_path / "adapter" / "adapter_config.json").is_file()
    saved = json.loads((tmp_path / "adapter" / "responder.json").read_text())
    assert saved == metadata and saved["config"]["lora"] and saved["examples"] == 6
    again = load_language_model(str(folder), "cpu", adapter=tmp_path / "adapter")
    assert type(again.model).__name__ == "GPT2LMHeadModel"  # the adapter is merged into the weights
