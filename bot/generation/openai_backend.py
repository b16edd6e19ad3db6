"""Any OpenAI-compatible server (vLLM, llama.cpp's server, TGI, a hosted API) through its chat completions endpoint.

The official `openai` client does the HTTP work: it retries a request that failed before an answer came (refused
connections, timeouts, 429/5xx) with backoff, `retries` times. Once text has streamed, a failure raises instead: the
responder then answers with its sources' own words. `timeout_s` bounds the whole request, retries and every token
included. Closing the stream (`aclose`, e.g. the shopper left) closes the HTTP response, so the server stops writing.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator
from typing import Any

import openai

from bot.generation.base import Piece, Prompt, ServiceClock
from bot.generation.formats import ApproximateFormat

log = logging.getLogger("shopbot.generation")
API_KEY_ENV = "SHOPBOT_RESPONDER_API_KEY"
NO_KEY = "none"  # local servers ignore the key, but the client wants one


class RemoteGenerationError(RuntimeError):
    """A request to the generation server failed; the message is one line naming the endpoint."""


def describe(exc: BaseException, answered: bool = False) -> str:
    """A one-line reason for a failed request (`answered`: the server had started its answer)."""
    if isinstance(exc, (TimeoutError, openai.APITimeoutError)):
        return "timed out"
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code}: {' '.join(str(exc.message).split())[:200]}"
    if isinstance(exc, (openai.APIConnectionError, OSError)):
        what = "connection lost" if answered else "cannot connect"
        cause = exc.__cause__ if isinstance(exc, openai.APIConnectionError) else exc
        detail = (" ".join(str(cause).split())[:200] or type(cause).__name__) if cause else ""
        return f"{what} ({detail})" if detail else what
    return " ".join(f"{type(exc).__name__}: {exc}".split())[:300]


class OpenAIGenerator:
    """Streams greedy chat completions from an OpenAI-compatible server; `max_concurrency` requests at a time are
    expected to be served at once (more queue, which `expected_wait_ms` reports)."""

    name = "openai"

    def __init__(self, endpoint: str, model: str | None = None, api_key: str | None = None,
                 timeout_s: float = 20.0, retries: int = 2, max_concurrency: int = 16):
        self.device = endpoint.rstrip("/")
        self.timeout_s = timeout_s
        self.retries = retries
        self.prompt_format = ApproximateFormat()
        self.clock = ServiceClock(parallel=max_concurrency)
        self._api_key = api_key or os.environ.get(API_KEY_ENV) or NO_KEY
        self.client = openai.AsyncOpenAI(base_url=self.device, api_key=self._api_key, timeout=timeout_s,
                                         max_retries=retries)
        self._model_lock = asyncio.Lock()
        self._closed = False
        self.model = model or ""
        if not self.model:
            try:
                self.model = self._first_model_sync()
            except RemoteGenerationError as exc:  # the server may come up later: ask again on the first request
                log.warning("%s; the model name is asked for again on the first request", exc)

    def _error(self, exc: BaseException, doing: str = "request", answered: bool = False) -> RemoteGenerationError:
        return RemoteGenerationError(f"generation server {self.device}: {doing} failed: {describe(exc, answered)}")

    def _first_model_sync(self) -> str:
        """The first model the server lists (one blocking try at start-up, bounded by `timeout_s`)."""
        with openai.OpenAI(base_url=self.device, api_key=self._api_key, timeout=self.timeout_s,
                           max_retries=0) as client:
            try:
                models = [entry.id for entry in client.models.list()]
            except openai.OpenAIError as exc:
                raise self._error(exc, "listing models") from exc
        if not models:
            raise RemoteGenerationError(f"generation server {self.device}: it lists no models")
        return models[0]

    async def _resolve_model(self, deadline: float) -> str:
        async with self._model_lock:
            if not self.model:
                try:
                    async with asyncio.timeout_at(deadline):
                        models = [entry.id async for entry in self.client.models.list()]
                except (openai.OpenAIError, TimeoutError) as exc:
                    raise self._error(exc, "listing models") from exc
                if not models:
                    raise RemoteGenerationError(f"generation server {self.device}: it lists no models")
                self.model = models[0]
        return self.model

    def expected_wait_ms(self) -> float:
        return self.clock.expected_wait_ms()

    async def stream(self, prompt: Prompt, max_tokens: int) -> AsyncIterator[Piece]:
        """Stream the reply to `prompt.messages` (`prompt.text` as one user message when there are none), one piece
        per streamed chunk."""
        if self._closed:
            raise RemoteGenerationError(f"generation server {self.device}: the generator is closed")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_s
        messages: list[Any] = [dict(m) for m in prompt.messages] or [{"role": "user", "content": prompt.text}]
        started = self.clock.started()
        response: Any = None
        streamed = False
        try:
            model = await self._resolve_model(deadline)
            try:
                async with asyncio.timeout_at(deadline):
                    response = await self.client.chat.completions.create(
                        model=model, messages=messages, stream=True, temperature=0, max_tokens=max_tokens)
            except (openai.OpenAIError, TimeoutError) as exc:
                raise self._error(exc) from exc
            chunks = aiter(response)
            while True:
                try:
                    async with asyncio.timeout_at(deadline):
                        chunk = await anext(chunks)
                except StopAsyncIteration:
                    break
                except (openai.OpenAIError, TimeoutError, OSError) as exc:
                    raise self._error(exc, "streaming" if streamed else "request", answered=True) from exc
                text = chunk.choices[0].delta.content if chunk.choices else None
                if text:
                    streamed = True
                    yield Piece(text, 1)
            self.clock.served((time.perf_counter() - started) * 1000)
        finally:
            if response is not None:
                await response.close()  # a closed response tells the server to stop generating
            self.clock.left()

    async def aclose(self) -> None:
        """`close` on the event loop the requests ran on: the pooled connections are closed there."""
        self._closed = True
        await self.client.close()

    def close(self) -> None:
        """Stop serving: later requests fail, the connection pool is closed (requests in flight end)."""
        if self._closed:
            return
        self._closed = True
        try:
            self._closing = asyncio.get_running_loop().create_task(self.client.close())  # kept: a task is weakly held
        except RuntimeError:  # no loop running here
            try:
                asyncio.run(self.client.close())
            except Exception as exc:  # noqa: BLE001 - a pool bound to a finished loop: nothing left to close
                log.debug("closing the client for %s: %s", self.device, exc)
