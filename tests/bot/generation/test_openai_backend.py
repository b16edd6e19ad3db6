"""The `openai` engine against a real OpenAI-compatible server: llama-cpp-python's, serving the packaged SmolLM2
GGUF in a subprocess; and against endpoints that refuse or stall (real sockets, nothing faked)."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.generation.base import Piece, Prompt, collect
from bot.generation.openai_backend import OpenAIGenerator, RemoteGenerationError
from tests.support import free_port, wait_http

SHIPPING = Prompt("", ({"role": "system", "content": "Facts: Shipping is $4.95, free over $75."},
                       {"role": "user", "content": "how much is shipping?"}))
LONG = Prompt("", ({"role": "user", "content": "Write a long story about a dragon who sells shoes."},))
SERVER_START_S = 180


def server_importable() -> None:
    """Skip (or fail with SHOPBOT_REQUIRE_SERVICES=1) where llama-cpp-python's server cannot be imported."""
    try:
        import llama_cpp.server.app  # noqa: F401
    except ImportError as exc:
        reason = f"llama_cpp.server cannot be imported ({exc}); install llama-cpp-python[server]"
        if os.environ.get("SHOPBOT_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{reason} (required: SHOPBOT_REQUIRE_SERVICES=1)")
        pytest.skip(reason)


class LlamaServer:
    def __init__(self, url: str, log: Path):
        self.url = url
        self.log = log

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    server_importable()
    from bot.responder.lm import smollm2_gguf

    port = free_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(smollm2_gguf()), "--host", "127.0.0.1",
               "--port", str(port), "--n_ctx", "2048", "--model_alias", "smollm2"]
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT,
                                   env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        wait_http(f"http://127.0.0.1:{port}/v1/models", process, log, deadline_s=SERVER_START_S)
        yield LlamaServer(f"http://127.0.0.1:{port}/v1", log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_streams_a_reply_with_the_model_the_server_names(llama_server: LlamaServer):
    generator = OpenAIGenerator(llama_server.url, timeout_s=60)  # a cold first request on a busy machine is slow
    assert generator.model == "smollm2"  # asked of /v1/models, not given
    assert (generator.name, generator.device) == ("openai", llama_server.url)

    async def run() -> list[Piece]:
        try:
            return [piece async for piece in generator.stream(SHIPPING, max_tokens=16)]
        finally:
            await generator.aclose()

    pieces = asyncio.run(run())
    text = "".join(piece.text for piece in pieces)
    assert len(pieces) >= 3 and all(piece.tokens == 1 for piece in pieces)
    assert len(pieces) <= 16
    assert text.strip()
    assert generator.clock.in_flight == 0 and generator.expected_wait_ms() == 0


def test_closing_the_stream_stops_the_server(llama_server: LlamaServer):
    generator = OpenAIGenerator(llama_server.url, model="smollm2", timeout_s=60)
    max_tokens = 200
    disconnects_before = llama_server.log_text().count("Disconnected from client")

    async def server_saw_the_client_go() -> bool:
        """llama.cpp's server logs this when a stream it is still writing is cut, and stops that generation."""
        deadline = time.monotonic() + 10
        while llama_server.log_text().count("Disconnected from client") <= disconnects_before:
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.05)
        return True

    async def run() -> tuple[int, bool, str]:
        stream = generator.stream(LONG, max_tokens=max_tokens)
        received = 0
        async for _ in stream:
            received += 1
            break
        await stream.aclose()  # the shopper left
        assert generator.clock.in_flight == 0
        noticed = await server_saw_the_client_go()  # on this loop: nothing else may close the connection for us
        # The server is free again: a new request is served (llama.cpp's server runs one at a time).
        second = await collect(generator, SHIPPING, max_tokens=16)
        await generator.aclose()
        return received, noticed, second

    received, noticed, second = asyncio.run(run())
    assert 0 < received < max_tokens
    assert noticed, "the server never saw the stream closed: " + llama_server.log_text()[-2000:]
    assert second.strip()


def test_an_unreachable_endpoint_fails_clearly_after_retries(caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.INFO, logger="openai")
    endpoint = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    generator = OpenAIGenerator(endpoint, model="smollm2", retries=1, timeout_s=2)

    started = time.monotonic()
    with pytest.raises(RemoteGenerationError) as failure:
        asyncio.run(collect(generator, SHIPPING, max_tokens=16))
    elapsed = time.monotonic() - started

    message = str(failure.value)
    assert endpoint in message and "cannot connect" in message and "\n" not in message
    assert elapsed < 2 + 1
    assert sum("Retrying request" in record.getMessage() for record in caplog.records) == 1
    assert generator.clock.in_flight == 0

    # Without a model name the server is asked for one; that failure is as clear.
    unnamed = OpenAIGenerator(endpoint, retries=0, timeout_s=2)
    assert unnamed.model == ""
    with pytest.raises(RemoteGenerationError, match="listing models failed: cannot connect"):
        asyncio.run(collect(unnamed, SHIPPING, max_tokens=16))

    generator.close()
    with pytest.raises(RemoteGenerationError, match="closed"):
        asyncio.run(collect(generator, SHIPPING, max_tokens=16))


def test_a_stalled_server_is_bounded_by_the_timeout():
    timeout_s = 1.5
    accepted: list[asyncio.StreamWriter] = []

    async def stall(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)
        while await reader.read(65536):  # read the request, never answer
            pass

    async def run() -> float:
        server = await asyncio.start_server(stall, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        generator = OpenAIGenerator(f"http://127.0.0.1:{port}/v1", model="smollm2", retries=1, timeout_s=timeout_s)
        started = time.monotonic()
        try:
            with pytest.raises(RemoteGenerationError, match=f"127.0.0.1:{port}/v1: request failed: timed out"):
                await collect(generator, SHIPPING, max_tokens=16)
            return time.monotonic() - started
        finally:
            await generator.aclose()
            server.close()
            for writer in accepted:
                writer.close()
                await writer.wait_closed()

    elapsed = asyncio.run(run())
    assert accepted, "the client never connected"
    assert timeout_s * 0.9 <= elapsed < timeout_s + 2


def test_one_setting_points_the_bot_at_the_server(llama_server: LlamaServer):
    """`responder.endpoint` alone: `auto` picks the openai engine, and the reply comes through the guard, cited."""
    from bot.app import load_responder
    from bot.config import Settings
    from bot.responder.prompt import ReplyRequest, Source
    from retrieval.loaders import KnowledgeBase

    settings = Settings(responder={"endpoint": llama_server.url, "timeout_s": 60})
    responder = load_responder(settings, KnowledgeBase(root=Path("."), name="Pinecrest"))
    assert responder.mode == "generate" and responder.generator.name == "openai"
    source = Source("faq:shipping", "How much is shipping?", "Shipping is $4.95, free on orders over $75.")

    async def run():
        try:
            return await responder.respond(ReplyRequest("how much is shipping?", [source], store="Pinecrest"))
        finally:
            await responder.generator.aclose()

    reply = asyncio.run(run())
    assert reply.text and reply.sources == ["faq:shipping"] and not reply.deadline
    assert reply.generated_tokens > 0  # the server wrote (the guard may still have quoted the source)
