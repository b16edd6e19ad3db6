"""llama.cpp through llama-cpp-python: the CPU default, reading the packaged Q4_1 GGUF as it is shipped.

One worker thread owns the `Llama` object and serves requests in turn (the way llama-cpp-python's own server
does); a request's prompt reuses the longest prefix already in llama.cpp's KV cache (the instructions, and the
facts when the same source comes twice), so only the rest is prefilled. The prompt format is the GGUF's own chat
template and tokenizer. Measured against the other engines in `benchmarks/engines/`.
"""

from __future__ import annotations

import asyncio
import codecs
import logging
import os
import queue
import re
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.generation.base import Message, Piece, Prompt, ServiceClock

log = logging.getLogger("shopbot.generation")
_STOP = object()


class LlamaCppFormat:
    """The GGUF's chat template (rendered with Jinja2, as Hugging Face does) and its tokenizer."""

    chat_format = True

    def __init__(self, llm: Any):
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        self.llm = llm
        self.context_size = int(llm.n_ctx())
        source = llm.metadata.get("tokenizer.chat_template")
        if not source:
            raise RuntimeError("the GGUF has no chat template (tokenizer.chat_template)")
        environment = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
        self.template = environment.from_string(source)
        self.bos = llm.detokenize([llm.token_bos()], special=True).decode(errors="ignore")
        self.eos = llm.detokenize([llm.token_eos()], special=True).decode(errors="ignore")
        self.special_tokens = sorted({self.bos, self.eos, *re.findall(r"<\|[^|>]{1,40}\|>", source)} - {""})

    def render(self, messages: list[Message]) -> str:
        return self.template.render(messages=messages, add_generation_prompt=True, bos_token=self.bos,
                                    eos_token=self.eos)

    def count(self, text: str) -> int:
        return len(self.tokenize(text))

    def tokenize(self, text: str) -> list[int]:
        return self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)


@dataclass
class _Request:
    """One prompt to continue, where its pieces go, and whether its caller has gone."""

    tokens: list[int]
    max_tokens: int
    loop: asyncio.AbstractEventLoop
    pieces: asyncio.Queue
    cancelled: threading.Event = field(default_factory=threading.Event)

    def send(self, item: Any) -> None:
        """Hand `item` to the caller's loop; a caller whose loop has closed is taken as gone."""
        try:
            self.loop.call_soon_threadsafe(self.pieces.put_nowait, item)
        except RuntimeError:  # the event loop is closed
            self.cancelled.set()


class LlamaCppGenerator:
    """Greedy replies from a GGUF file on the CPU, one at a time, streamed as they decode."""

    name = "llama_cpp"
    device = "cpu"

    def __init__(self, gguf: Path, threads: int | None = None, context: int = 2048, batch: int = 512):
        import llama_cpp

        threads = threads or os.cpu_count() or 1
        self.llm = llama_cpp.Llama(model_path=str(gguf), n_ctx=context, n_threads=threads, n_threads_batch=threads,
                                   n_batch=batch, verbose=False)
        self.model = Path(gguf).name
        self.prompt_format = LlamaCppFormat(self.llm)
        self._is_end = lambda token: bool(llama_cpp.llama_vocab_is_eog(self.llm._model.vocab, token))
        self.clock = ServiceClock(1)
        self._requests: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._worker = threading.Thread(target=self._serve, name="llama-cpp", daemon=True)
        self._worker.start()

    def expected_wait_ms(self) -> float:
        return self.clock.expected_wait_ms()

    async def stream(self, prompt: Prompt, max_tokens: int) -> AsyncIterator[Piece]:
        tokens = self.prompt_format.tokenize(prompt.text)
        room = self.prompt_format.context_size - len(tokens)
        if room < 1:
            raise ValueError(f"the prompt has {len(tokens)} tokens; the context holds {self.prompt_format.context_size}")
        request = _Request(tokens, min(max_tokens, room), asyncio.get_running_loop(), asyncio.Queue())
        self.clock.started()
        self._requests.put(request)
        try:
            while (item := await request.pieces.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            request.cancelled.set()  # the worker stops at its next token (or skips the request if not begun)
            self.clock.left()

    def _serve(self) -> None:
        while (request := self._requests.get()) is not _STOP:
            started = time.perf_counter()
            try:
                if not request.cancelled.is_set():  # a caller who left while queued costs nothing
                    self._write(request)
                    self.clock.served((time.perf_counter() - started) * 1000)
            except Exception as exc:  # noqa: BLE001 - handed to the caller's stream
                log.exception("llama.cpp generation failed")
                request.send(exc)
            finally:
                request.send(None)

    def _write(self, request: _Request) -> None:
        """Decode greedily until an end-of-generation token, the token limit, or the caller leaves."""
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        tokens = self.llm.generate(request.tokens, top_k=1, top_p=1.0, min_p=0.0, temp=0.0, repeat_penalty=1.0)
        written = 0
        try:
            for token in tokens:
                if self._is_end(token) or request.cancelled.is_set():
                    break
                written += 1
                text = decoder.decode(self.llm.detokenize([token]))
                request.send(Piece(text, 1))
                if written >= request.max_tokens:
                    break
        finally:
            tokens.close()
        if tail := decoder.decode(b"", final=True):
            request.send(Piece(tail, 0))

    def close(self) -> None:
        self._requests.put(_STOP)
        self._worker.join(timeout=30)
        self.llm.close()
