"""The one interface every text-writing task uses: a prompt in, text pieces streamed out, cancellable, async.

Backends (`bot/generation/`): `llama_cpp` (the CPU default, the packaged GGUF as shipped), `vllm` (in-process on
CUDA), `transformers` (any local Hugging Face causal LM; the fallback for what vLLM cannot load) and `openai`
(any OpenAI-compatible server). Each also says how long a new request would wait before it starts
(`expected_wait_ms`), so a caller with a deadline can answer another way instead of queueing.

>>> generator = open_generator(settings)
>>> async for piece in generator.stream(prompt, max_tokens=48):
...     print(piece.text, end="")
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": ...}


@dataclass(frozen=True)
class Prompt:
    """What to continue: `text` rendered with the model's own template (local engines), `messages` the same
    conversation as chat messages (remote chat endpoints apply their own template)."""

    text: str
    messages: tuple[Message, ...] = ()


@dataclass(frozen=True)
class Piece:
    """Newly written text and how many tokens it took."""

    text: str
    tokens: int = 1


@runtime_checkable
class PromptFormat(Protocol):
    """How prompts are written and measured for a model: its chat template and tokenizer."""

    chat_format: bool  # True: `render` applies a chat template; False: a plain "Customer:/Assistant:" transcript
    context_size: int
    special_tokens: list[str]

    def render(self, messages: list[Message]) -> str:
        """The conversation as prompt text, ending where the assistant's reply starts."""

    def count(self, text: str) -> int:
        """Tokens in `text`."""


@runtime_checkable
class TextGenerator(Protocol):
    """Streams greedy continuations of prompts; many requests may be in flight at once."""

    name: str    # the backend: "llama_cpp", "vllm", "transformers", "openai"
    model: str   # what it runs
    device: str  # "cpu", "cuda", or the server's address
    prompt_format: PromptFormat

    def stream(self, prompt: Prompt, max_tokens: int) -> AsyncIterator[Piece]:
        """Write up to `max_tokens` tokens after `prompt`; closing the iterator (`aclose`) cancels the request."""

    def expected_wait_ms(self) -> float:
        """How long a request made now would wait before its first token is computed (0 when it starts at once)."""

    def close(self) -> None:
        """Stop serving; requests in flight end."""


class ServiceClock:
    """Queue-wait estimate for an engine that serves `parallel` requests at a time: requests ahead of a new one,
    over `parallel`, times the recent mean time a request holds the engine (an exponential moving average)."""

    def __init__(self, parallel: int = 1, initial_ms: float = 800.0, smoothing: float = 0.2):
        self.parallel = max(1, parallel)
        self.mean_ms = initial_ms
        self.smoothing = smoothing
        self.in_flight = 0
        self._lock = threading.Lock()

    def expected_wait_ms(self) -> float:
        with self._lock:
            ahead = self.in_flight - self.parallel + 1
            return max(0.0, ahead / self.parallel * self.mean_ms) if ahead > 0 else 0.0

    def started(self) -> float:
        """A request entered the queue; returns its start time for `finished`."""
        with self._lock:
            self.in_flight += 1
        return time.perf_counter()

    def served(self, held_ms: float) -> None:
        """A request held the engine for `held_ms` (its own service time, queueing excluded)."""
        with self._lock:
            self.mean_ms += self.smoothing * (held_ms - self.mean_ms)

    def left(self) -> None:
        """A request left the queue (finished, failed or cancelled)."""
        with self._lock:
            self.in_flight -= 1


async def collect(generator: TextGenerator, prompt: Prompt, max_tokens: int) -> str:
    """The whole continuation at once."""
    return "".join([piece.text async for piece in generator.stream(prompt, max_tokens)])
