"""The vLLM backend. On a CUDA machine with vLLM installed: it streams a reply of the packaged SmolLM2 (its converted
folder), aborts a request whose stream is closed, and serves concurrent streams. Everywhere: its module imports
without vLLM or CUDA, it says vLLM is unavailable where vLLM is not installed, and it turns vLLM's cumulative
outputs into the new pieces."""

from __future__ import annotations

import asyncio
import importlib.util
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.generation.base import Piece, Prompt, collect
from bot.generation.vllm_backend import CumulativeText, VllmGenerator, vllm_available
from tests.support import test_cache_dir

ROOT = Path(__file__).resolve().parents[3]
VLLM_INSTALLED = importlib.util.find_spec("vllm") is not None
QUESTIONS = ["How long do refunds take?", "Do you ship to Canada?", "Can I change my order address?",
             "What sizes do the running shoes come in?", "Is the kettle dishwasher safe?",
             "How do I return a gift?", "Do you price match?", "When will my parcel arrive?"]


def test_module_imports_without_vllm_or_cuda() -> None:
    """Importing the backend loads neither vLLM nor torch (so neither torch.cuda); without vLLM, asking whether it
    is available does not either."""
    code = ("import importlib.util, sys\n"
            "import bot.generation.vllm_backend as backend\n"
            "print(sorted(n for n in ('vllm', 'torch', 'torch.cuda') if n in sys.modules))\n"
            "if importlib.util.find_spec('vllm') is None:\n"
            "    print(backend.vllm_available(), sorted(n for n in ('vllm', 'torch') if n in sys.modules))\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "[]"
    if not VLLM_INSTALLED:
        assert lines[1] == "False []"


@pytest.mark.skipif(VLLM_INSTALLED, reason="vLLM is installed here")
def test_without_vllm_it_is_unavailable_and_construction_raises(tmp_path: Path) -> None:
    """What the factory relies on: `auto` does not pick vLLM, and an explicit one fails at construction."""
    assert vllm_available() is False
    with pytest.raises(ImportError):
        VllmGenerator(str(tmp_path))


def test_cumulative_outputs_become_the_new_pieces() -> None:
    seen = CumulativeText()
    outputs = [("", 0), ("Hel", 1), ("Hello", 2), ("Hello", 3), ("Hello", 3), ("Hello, world.", 6)]
    pieces = [seen.advance(text, tokens) for text, tokens in outputs]
    assert pieces == [None, Piece("Hel", 1), Piece("lo", 1), Piece("", 1), None, Piece(", world.", 3)]
    assert "".join(p.text for p in pieces if p) == "Hello, world." and sum(p.tokens for p in pieces if p) == 6


# -- on a GPU with vLLM ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[VllmGenerator, asyncio.AbstractEventLoop]]:
    """One engine on the packaged model's converted folder, made outside any event loop as `shopbot serve` makes
    it, and the one loop every test here runs its requests on (vLLM's output task lives on the first)."""
    if not vllm_available():
        pytest.skip("needs vLLM and a CUDA GPU (vllm_available() is False): vLLM installs only on a GPU machine")
    from bot.responder.lm import converted_smollm2

    folder = converted_smollm2(test_cache_dir())
    generator = VllmGenerator(str(folder), enforce_eager=True)  # eager: a quicker start for the tests
    loop = asyncio.new_event_loop()
    yield generator, loop

    async def shut_down() -> None:
        generator.close()
        await asyncio.sleep(0.1)  # lets vLLM's output task see its cancellation

    loop.run_until_complete(shut_down())
    loop.close()


def ask(generator: VllmGenerator, question: str) -> Prompt:
    return Prompt(generator.prompt_format.render([
        {"role": "system", "content": "You are a helpful assistant of an online shop. Answer in one sentence."},
        {"role": "user", "content": question}]))


def test_streams_a_reply(served: tuple[VllmGenerator, asyncio.AbstractEventLoop]) -> None:
    generator, loop = served

    async def pieces() -> list[Piece]:
        return [piece async for piece in generator.stream(ask(generator, QUESTIONS[0]), max_tokens=32)]

    before = generator.aborted
    written = loop.run_until_complete(pieces())
    text = "".join(piece.text for piece in written)
    assert text.strip() and len(written) > 1  # streamed as it decodes, not all at once
    assert 1 <= sum(piece.tokens for piece in written) <= 32
    assert "<|im_" not in text and "<|endoftext|>" not in text  # the end of the turn stops it, unwritten
    assert generator.unfinished_requests() == 0 and generator.aborted == before
    assert generator.expected_wait_ms() == 0.0


def test_closing_a_stream_aborts_its_request(served: tuple[VllmGenerator, asyncio.AbstractEventLoop]) -> None:
    generator, loop = served

    async def cancel_then_ask() -> tuple[Piece, int | None, int | None, str]:
        stream = generator.stream(ask(generator, "Write a long story about a lighthouse keeper."), max_tokens=400)
        first = await anext(stream)
        running = generator.unfinished_requests()
        await stream.aclose()
        left = generator.unfinished_requests()
        return first, running, left, await collect(generator, ask(generator, QUESTIONS[1]), 24)

    before = generator.aborted
    first, running, left, reply = loop.run_until_complete(cancel_then_ask())
    assert first.text or first.tokens
    assert running == 1 and left == 0  # the engine held the request, then no longer
    assert generator.aborted == before + 1
    assert reply.strip()  # the engine serves the next request


def test_eight_concurrent_streams_complete(served: tuple[VllmGenerator, asyncio.AbstractEventLoop]) -> None:
    generator, loop = served

    async def together() -> list[str]:
        return list(await asyncio.gather(*(collect(generator, ask(generator, q), 32) for q in QUESTIONS)))

    before = generator.aborted
    replies = loop.run_until_complete(together())
    assert len(replies) == 8 and all(reply.strip() for reply in replies)
    assert generator.unfinished_requests() == 0 and generator.aborted == before
