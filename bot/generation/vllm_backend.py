"""vLLM in-process on CUDA: its async engine batches every request in flight (continuous batching) and reuses the
KV cache of prompt prefixes it has seen (the instructions, a source asked for again).

vLLM reads a Hugging Face folder, not a GGUF: for the packaged SmolLM2 that is the folder
`bot.responder.lm.converted_smollm2` makes. Written against vLLM's v1 engine (`vllm.v1.engine.async_llm.AsyncLLM`,
which `vllm.AsyncLLMEngine` names since the v0 engine was removed); older releases' `AsyncLLMEngine` has the same
`from_engine_args`, `generate` and `abort`. vLLM and CUDA are imported only when a generator is made, so this module
imports on any machine; `vllm_available()` says whether one can be.

>>> generator = VllmGenerator(str(converted_smollm2(cache_dir)))
>>> async for piece in generator.stream(Prompt(text), max_tokens=48):
...     print(piece.text, end="")
"""

from __future__ import annotations

import importlib.util
import itertools
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from bot.generation.base import Piece, Prompt
from bot.generation.formats import TokenizerFormat


def vllm_available() -> bool:
    """True when vLLM is installed and PyTorch sees a CUDA GPU (checked without importing vLLM)."""
    if importlib.util.find_spec("vllm") is None:
        return False
    try:
        import torch

        return bool(torch.cuda.is_available())
    except Exception:  # noqa: BLE001 - a broken CUDA install means no vLLM here
        return False


class CumulativeText:
    """The new part of each of a request's outputs, which vLLM reports cumulatively (the whole text and every
    token id so far). The text only grows (no stop strings are set, so vLLM never holds any back), so what is
    new is what lies past the length already handed out."""

    def __init__(self) -> None:
        self.text = ""
        self.tokens = 0

    def advance(self, text: str, tokens: int) -> Piece | None:
        """The text and token count added since the last output (None when nothing was added)."""
        new_text, new_tokens = text[len(self.text):], max(0, tokens - self.tokens)
        if new_text:
            self.text = text
        self.tokens = max(self.tokens, tokens)
        return Piece(new_text, new_tokens) if new_text or new_tokens else None


class VllmGenerator:
    """Greedy replies from vLLM's async engine on the GPU; closing a stream aborts its request in the engine."""

    name = "vllm"
    device = "cuda"

    def __init__(self, model_path: str, gpu_memory_utilization: float = 0.5, max_model_len: int = 2048, *,
                 enforce_eager: bool = False):
        """Load `model_path` (a Hugging Face folder) in half precision (`dtype="auto"`: the folder's fp16/bf16,
        fp32 weights as half). Raises when vLLM is missing or cannot load the model (the factory then falls back
        to transformers). `enforce_eager` skips CUDA-graph capture: a faster start, slower decoding."""
        from vllm import AsyncEngineArgs  # first: without vLLM this raises before anything loads

        try:
            from vllm.v1.engine.async_llm import AsyncLLM as Engine
        except ImportError:  # releases before the v1 engine
            from vllm import AsyncLLMEngine as Engine

        if not Path(model_path, "config.json").is_file():
            raise RuntimeError(f"vLLM reads a Hugging Face model folder: {model_path} has no config.json")
        args = AsyncEngineArgs(model=model_path, dtype="auto", enable_prefix_caching=True,
                               gpu_memory_utilization=gpu_memory_utilization, max_model_len=max_model_len,
                               enforce_eager=enforce_eager, disable_log_stats=True)
        self.engine: Any = Engine.from_engine_args(args)
        self.model = Path(model_path).name
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(model_path, local_files_only=True)
        self.prompt_format = TokenizerFormat(tokenizer, max_model_len)
        scheduler = getattr(getattr(self.engine, "vllm_config", None), "scheduler_config", None)
        self.max_num_seqs = int(getattr(scheduler, "max_num_seqs", 0) or 0)  # requests the engine runs at once
        self.mean_ms = 800.0  # recent mean time a request holds the engine (moving average)
        self.aborted = 0  # requests aborted because their caller closed the stream before the end
        self._ids = itertools.count()
        self._prefix = uuid.uuid4().hex[:8]
        self._closed = False

    def prompt_tokens(self, text: str) -> list[int]:
        """`text`'s token ids as the transformers backend makes them: a rendered chat template already holds its
        special tokens, so none are added (vLLM, given the text, would add the tokenizer's BOS once more)."""
        tokenizer = self.prompt_format.tokenizer
        return list(tokenizer(text, add_special_tokens=not self.prompt_format.chat_format)["input_ids"])

    def unfinished_requests(self) -> int | None:
        """Requests the engine holds now, running or waiting, by its own count (None where it keeps none)."""
        count = getattr(getattr(self.engine, "output_processor", None), "get_num_unfinished_requests", None)
        return int(count()) if callable(count) else None

    def expected_wait_ms(self) -> float:
        """The engine's requests beyond the `max_num_seqs` it runs at once wait; each of those batches takes
        about a request's recent mean time. 0 when the engine's queue cannot be read."""
        unfinished = self.unfinished_requests()
        if unfinished is None or self.max_num_seqs < 1:
            return 0.0
        ahead = unfinished - self.max_num_seqs + 1
        return ahead / self.max_num_seqs * self.mean_ms if ahead > 0 else 0.0

    async def stream(self, prompt: Prompt, max_tokens: int) -> AsyncIterator[Piece]:
        from vllm import SamplingParams, TokensPrompt

        tokens = self.prompt_tokens(prompt.text)
        room = self.prompt_format.context_size - len(tokens)
        if room < 1:
            raise ValueError(f"the prompt has {len(tokens)} tokens; the context holds "
                             f"{self.prompt_format.context_size}")
        params = SamplingParams(temperature=0.0, max_tokens=max(1, min(max_tokens, room)))
        request_id = f"shopbot-{self._prefix}-{next(self._ids)}"
        outputs = self.engine.generate(TokensPrompt(prompt_token_ids=tokens), params, request_id)
        seen = CumulativeText()
        finished = False
        started = time.perf_counter()
        try:
            async for output in outputs:
                finished = bool(output.finished)
                completion = output.outputs[0]
                if piece := seen.advance(completion.text, len(completion.token_ids)):
                    yield piece
        finally:
            await outputs.aclose()  # vLLM's generator aborts a request it was still streaming (a no-op once done)
            if not finished:
                await self.engine.abort(request_id)  # and this covers one not yet started (a no-op if done)
                self.aborted += 1
            else:
                self.mean_ms += 0.2 * ((time.perf_counter() - started) * 1000 - self.mean_ms)

    def close(self) -> None:
        """Shut the engine (and its GPU worker process) down; requests in flight end."""
        if self._closed:
            return
        self._closed = True
        shutdown = getattr(self.engine, "shutdown", None) or getattr(self.engine, "shutdown_background_loop", None)
        if shutdown is not None:
            shutdown()
