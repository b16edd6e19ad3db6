"""Any local Hugging Face causal LM through `generate`, in worker threads: the fallback engine (GPT-2 folders,
LoRA-tuned models, what vLLM cannot load). fp16 on CUDA, fp32 on the CPU; `workers` replies at a time."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bot.generation.base import Piece, Prompt, ServiceClock
from bot.generation.formats import TokenizerFormat
from bot.responder.lm import LanguageModel


class Cancelled:
    """A stopping criterion that ends generation once the caller has closed the stream."""

    def __init__(self, event: threading.Event):
        self.event = event

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        return torch.full((input_ids.shape[0],), self.event.is_set(), dtype=torch.bool, device=input_ids.device)


def queue_streamer(tokenizer: Any, queue: asyncio.Queue, loop: asyncio.AbstractEventLoop, skip_prompt: bool) -> Any:
    """A Hugging Face `TextStreamer` that hands each decoded `Piece` to the event loop's queue (the generating
    thread puts the closing None itself, after an error too)."""
    from transformers import TextStreamer

    class _QueueStreamer(TextStreamer):
        pending_tokens = 0

        def put(self, value: Any) -> None:
            if not (self.skip_prompt and self.next_tokens_are_prompt):
                self.pending_tokens += int(value.numel())
            super().put(value)

        def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
            tokens, self.pending_tokens = self.pending_tokens, 0
            if text or tokens:
                loop.call_soon_threadsafe(queue.put_nowait, Piece(text, tokens))

    return _QueueStreamer(tokenizer, skip_prompt=skip_prompt, skip_special_tokens=True)


class TransformersGenerator:
    """`LanguageModel.model.generate`, greedy, streamed through a `TextStreamer`; cancelled between tokens."""

    name = "transformers"

    def __init__(self, lm: LanguageModel, workers: int = 1):
        self.lm = lm
        self.model = lm.name
        self.device = lm.device
        self.prompt_format = TokenizerFormat(lm.tokenizer, lm.context_size)
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="transformers-lm")
        self.clock = ServiceClock(workers)

    def expected_wait_ms(self) -> float:
        return self.clock.expected_wait_ms()

    async def stream(self, prompt: Prompt, max_tokens: int) -> AsyncIterator[Piece]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Piece | BaseException | None] = asyncio.Queue()
        stop = threading.Event()
        self.clock.started()
        job = loop.run_in_executor(self._executor, self._generate, prompt.text, max_tokens, queue, loop, stop)
        try:
            while (item := await queue.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            if not job.done():
                await asyncio.shield(job)
            self.clock.left()

    def _generate(self, text: str, max_tokens: int, queue: asyncio.Queue, loop: asyncio.AbstractEventLoop,
                  stop: threading.Event) -> None:
        import torch
        from transformers import StoppingCriteriaList

        started = time.perf_counter()
        tokenizer = self.lm.tokenizer
        try:
            if stop.is_set():
                return
            streamer = queue_streamer(tokenizer, queue, loop, skip_prompt=True)
            inputs = tokenizer(text, return_tensors="pt", add_special_tokens=not self.lm.chat_format).to(self.lm.device)
            room = self.lm.context_size - int(inputs["input_ids"].shape[1])  # never run past the model's positions
            with torch.inference_mode():
                # No repetition penalty: it would punish copying facts from the prompt, which is the point.
                self.lm.model.generate(**inputs, max_new_tokens=max(1, min(max_tokens, room)), do_sample=False,
                                       streamer=streamer, pad_token_id=tokenizer.pad_token_id,
                                       eos_token_id=self.lm.stop_token_ids or None,
                                       stopping_criteria=StoppingCriteriaList([Cancelled(stop)]))
        except Exception as exc:  # noqa: BLE001 - handed to the caller's stream
            loop.call_soon_threadsafe(queue.put_nowait, exc)
        finally:
            self.clock.served((time.perf_counter() - started) * 1000)
            loop.call_soon_threadsafe(queue.put_nowait, None)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
