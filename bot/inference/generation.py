"""Continuous batching of greedy decoding: the replies being written for concurrent conversations share one forward
pass per token.

One worker thread owns the model. Between decode steps it admits waiting requests (each prompt prefilled from the
longest prefix already in the `PrefixCache`), merges their key/value caches into the running batch, runs one
decode step for every reply in the batch, hands each reply its new token, and drops the replies that are finished
(a stop token, their token limit, or cancelled by their caller). Replies join and leave between steps; nobody
waits for the longest reply.

The batch keeps one Hugging Face `DynamicCache` whose rows are left-padded to a common length; padding is masked
out, and every row has its own position ids, so a reply decodes exactly as it would alone (up to float rounding).

>>> scheduler = GenerationScheduler(lm.model, max_batch=8)
>>> future = scheduler.submit(prompt_ids, max_new_tokens=48, stop_ids={2}, on_tokens=print)
>>> future.result()   # the number of tokens written
"""

from __future__ import annotations

import ctypes
import inspect
import logging
import queue
import threading
import time
from collections.abc import Callable, Collection
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from bot import metrics
from bot.inference.attention import use_gqa_attention
from bot.inference.prefix_cache import PrefixCache
from bot.inference.worker import STOP, QueueWorker

log = logging.getLogger("shopbot.generation")
TRIM_EVERY_S = 1.0
TokenSink = Callable[[list[int], bool], None]  # (new token ids, finished); called on the scheduler's thread


@dataclass
class _Reply:
    """One request being decoded: its prompt, limits, sink, and progress."""

    prompt: list[int]
    max_new_tokens: int
    stop_ids: frozenset[int]
    sink: TokenSink
    cancelled: threading.Event
    future: Future
    queued: float = field(default_factory=time.perf_counter)
    written: int = 0

    def finish(self, error: BaseException | None = None) -> None:
        """Tell the sink the reply is over and resolve the caller's future (once)."""
        if self.future.done():
            return
        try:
            self.sink([], True)
        except Exception:  # noqa: BLE001 - a broken sink must not stop the batch
            log.exception("a reply's token sink failed")
        if error is None:
            self.future.set_result(self.written)
        else:
            self.future.set_exception(error)


def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's `malloc_trim`, which hands freed heap pages back to the system (None elsewhere)."""
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


def supports_batching(model: Any) -> bool:
    """Whether the model keeps its past in a `DynamicCache` of plain layers (Llama, SmolLM2, GPT-2, Qwen, ...),
    which is what the scheduler merges and splits; other models generate one reply at a time."""
    import torch
    from transformers import DynamicCache

    try:
        with torch.inference_mode():
            device = next(model.parameters()).device
            out = model(input_ids=torch.tensor([[1, 2]], device=device), use_cache=True)
        cache = out.past_key_values
        return isinstance(cache, DynamicCache) and all(hasattr(layer, "keys") and hasattr(layer, "values")
                                                       and not getattr(layer, "is_sliding", False)
                                                       for layer in cache.layers)
    except Exception:  # noqa: BLE001 - any model that cannot even run this is not batched
        return False


class GenerationScheduler(QueueWorker):
    """Greedy decoding for many replies at once with a causal LM (continuous batching with a KV cache)."""

    def __init__(self, model: Any, max_batch: int = 8, max_wait_ms: float = 2.0, prefill_tokens: int = 2048,
                 prefix_cache_tokens: int = 2048):
        """`max_batch` replies decode together; waiting prompts are prefilled (one by one, each from the longest
        prefix in the prefix cache) up to `prefill_tokens` tokens between two decode steps, so a burst of joiners
        cannot stall the running replies for long."""
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        super().__init__("generation")
        self.model = model
        self.max_batch = max_batch
        self.max_wait_s = max_wait_ms / 1000
        self.prefill_tokens = prefill_tokens
        self.prefixes = PrefixCache(prefix_cache_tokens)
        self._trim = _malloc_trim()
        self._trimmed_at = 0.0
        use_gqa_attention(model)
        self._logits_to_keep = "logits_to_keep" in inspect.signature(model.forward).parameters
        config = model.config
        self.vocab_size = int(config.vocab_size)
        self.context_size = int(getattr(config, "max_position_embeddings", None)
                                or getattr(config, "n_positions", 1024))
        # The running batch, owned by the worker thread.
        self._rows: list[_Reply] = []
        self._cache: Any = None
        self._mask: Any = None       # (rows, cached length): 1 for a real token, 0 for left padding
        self._positions: Any = None  # (rows, 1): each row's next position id
        self._last: Any = None       # (rows, 1): each row's latest token, the next step's input

    def submit(self, prompt_ids: list[int], max_new_tokens: int, stop_ids: Collection[int], on_tokens: TokenSink,
               cancelled: threading.Event | None = None) -> Future:
        """Queue a reply. `on_tokens` gets each new token as it is written, then `([], True)` once the reply ends;
        setting `cancelled` ends it at the next step. The future resolves to the number of tokens written, or to
        this request's own error. A malformed request is refused here, before it can reach a batch."""
        prompt = [int(t) for t in prompt_ids]
        if not prompt:
            raise ValueError("empty prompt")
        if any(t < 0 or t >= self.vocab_size for t in prompt):
            raise ValueError(f"prompt token ids must lie in [0, {self.vocab_size})")
        if max_new_tokens < 1:
            raise ValueError("max_new_tokens must be at least 1")
        max_new_tokens = min(max_new_tokens, self.context_size - len(prompt))
        if max_new_tokens < 1:
            raise ValueError(f"the prompt ({len(prompt)} tokens) fills the model's context ({self.context_size})")
        reply = _Reply(prompt, max_new_tokens, frozenset(int(t) for t in stop_ids), on_tokens,
                       cancelled or threading.Event(), Future())
        reply.future.set_running_or_notify_cancel()
        self._put(reply)
        return reply.future

    # -- the worker thread ----------------------------------------------------------------------------------------

    def _loop(self) -> None:
        import torch

        waiting: list[_Reply] = []
        stopping = False
        while True:
            stopping = self._take(waiting, block=not self._rows and not waiting) or stopping
            if stopping and not self._rows:
                for reply in waiting:
                    reply.finish(RuntimeError("the generation scheduler closed"))
                return
            with torch.inference_mode():
                if waiting and not stopping:
                    self._admit(waiting)
                if self._rows:
                    self._step()
            metrics.GENERATING.set(len(self._rows))

    def _take(self, waiting: list[_Reply], block: bool) -> bool:
        """Move queued requests into `waiting`; with nothing to do, wait for one (then briefly for company).
        Returns True once `close()` was called."""
        deadline = None
        while True:
            try:
                if block and not waiting:
                    entry = self._queue.get()
                    deadline = time.perf_counter() + self.max_wait_s
                elif deadline is not None:
                    entry = self._queue.get(timeout=max(0.0, deadline - time.perf_counter()))
                else:
                    entry = self._queue.get_nowait()
            except queue.Empty:
                return False
            if entry is STOP:
                return True
            waiting.append(entry)  # type: ignore[arg-type]

    def _admit(self, waiting: list[_Reply]) -> None:
        """Prefill as many waiting prompts as fit (batch room and the prefill budget) and join them to the batch."""
        for reply in [r for r in waiting if r.cancelled.is_set()]:
            waiting.remove(reply)
            reply.finish()
        joining: list[_Reply] = []
        tokens = 0
        for reply in list(waiting):
            if len(self._rows) + len(joining) >= self.max_batch:
                break
            if joining and tokens + len(reply.prompt) > self.prefill_tokens:
                break
            joining.append(reply)
            tokens += len(reply.prompt)
            waiting.remove(reply)
        for reply in joining:
            try:
                self._join(reply)
            except Exception as exc:  # noqa: BLE001 - this request's own failure; the others still join
                log.warning("prefill failed: %s", exc)
                reply.finish(exc)

    def _join(self, reply: _Reply) -> None:
        """Prefill one prompt (from its longest cached prefix) and add it to the running batch."""
        import torch
        from transformers import DynamicCache

        device = next(self.model.parameters()).device
        cached, layers = self.prefixes.lookup(reply.prompt)
        cache = DynamicCache(ddp_cache_data=layers) if layers is not None else DynamicCache()
        suffix = torch.tensor([reply.prompt[cached:]], device=device)
        positions = torch.arange(cached, len(reply.prompt), device=device).unsqueeze(0)
        out = self.model(input_ids=suffix, position_ids=positions, past_key_values=cache, use_cache=True,
                         **self._last_logits_only())
        metrics.PREFILL_TOKENS.labels("cached").inc(cached)
        metrics.PREFILL_TOKENS.labels("computed").inc(len(reply.prompt) - cached)
        self.prefixes.store(reply.prompt, [(layer.keys, layer.values) for layer in out.past_key_values.layers])
        first = out.logits[:, -1, :].argmax(-1, keepdim=True)
        metrics.BATCH_QUEUE_SECONDS.labels("generate").observe(time.perf_counter() - reply.queued)
        mask = torch.ones((1, len(reply.prompt)), dtype=torch.long, device=device)
        self._merge(out.past_key_values, mask, positions[:, -1:] + 1, first)
        self._rows.append(reply)
        self._emit({len(self._rows) - 1: int(first)})

    def _last_logits_only(self) -> dict[str, int]:
        """Ask the model for the last position's logits only (no vocabulary projection of the whole prompt)."""
        return {"logits_to_keep": 1} if self._logits_to_keep else {}

    def _merge(self, cache: Any, mask: Any, positions: Any, last: Any) -> None:
        """Join a prefilled prompt's cache to the running batch, left-padding the shorter side."""
        import torch

        if self._cache is None or not self._rows:
            self._cache, self._mask, self._positions, self._last = cache, mask, positions, last
            return
        have, new = self._mask.shape[1], mask.shape[1]
        width = max(have, new)
        for old_layer, new_layer in zip(self._cache.layers, cache.layers):
            old_layer.keys = torch.cat([_left_pad(old_layer.keys, width, 2), _left_pad(new_layer.keys, width, 2)])
            old_layer.values = torch.cat([_left_pad(old_layer.values, width, 2),
                                          _left_pad(new_layer.values, width, 2)])
        self._mask = torch.cat([_left_pad(self._mask, width, 1), _left_pad(mask, width, 1)])
        self._positions = torch.cat([self._positions, positions])
        self._last = torch.cat([self._last, last])

    def _step(self) -> None:
        """One decode step for every row, then drop the finished rows."""
        import torch

        started = time.perf_counter()
        ones = torch.ones((len(self._rows), 1), dtype=self._mask.dtype, device=self._mask.device)
        mask = torch.cat([self._mask, ones], dim=1)
        padded = bool((self._mask == 0).any())  # no padding: no mask, so attention takes its fast path
        try:
            out = self.model(input_ids=self._last, attention_mask=mask if padded else None,
                             position_ids=self._positions, past_key_values=self._cache, use_cache=True,
                             **self._last_logits_only())
        except Exception as exc:  # noqa: BLE001 - the step's replies end with the error; the scheduler goes on
            log.exception("decode step failed for %d replies", len(self._rows))
            for reply in self._rows:
                reply.finish(exc)
            self._rows, self._cache = [], None
            return
        self._mask, self._positions = mask, self._positions + 1
        self._last = out.logits[:, -1, :].argmax(-1, keepdim=True)
        metrics.DECODE_STEP_SECONDS.observe(time.perf_counter() - started)
        metrics.BATCH_SIZE.labels("generate").observe(len(self._rows))
        self._emit(dict(enumerate(self._last[:, 0].tolist())))

    def _emit(self, tokens: dict[int, int]) -> None:
        """Give rows their new tokens (row -> token); finish and drop rows that are done."""
        done = {row for row, token in tokens.items() if self._give(self._rows[row], token)}
        if done:
            self._drop(done)

    def _give(self, reply: _Reply, token: int) -> bool:
        """Hand one token to its reply; True when the reply is over (cancelled, stop token, limit, broken sink)."""
        if reply.cancelled.is_set() or token in reply.stop_ids:
            return True
        reply.written += 1
        metrics.GENERATED_TOKENS.inc()
        try:
            reply.sink([token], False)
        except Exception:  # noqa: BLE001 - a broken sink ends its own reply only
            log.exception("a reply's token sink failed")
            return True
        return reply.written >= reply.max_new_tokens

    def _drop(self, done: set[int]) -> None:
        for row in sorted(done):
            self._rows[row].finish()
        keep = [row for row in range(len(self._rows)) if row not in done]
        self._rows = [self._rows[row] for row in keep]
        if keep:
            self._keep_rows(keep)
        else:
            self._cache = self._mask = self._positions = self._last = None
        self._release_memory()  # after the finished rows' tensors are let go

    def _keep_rows(self, keep: list[int]) -> None:
        """Cut the batch down to `keep`, and the columns that are now padding for every row."""
        import torch

        index = torch.tensor(keep, device=self._mask.device)
        self._cache.batch_select_indices(index)
        self._mask, self._positions, self._last = self._mask[index], self._positions[index], self._last[index]
        used = self._mask.any(dim=0).nonzero()
        start = int(used[0]) if len(used) else 0
        if start > 0:  # columns that are padding for every remaining row: cut them
            for layer in self._cache.layers:
                layer.keys, layer.values = layer.keys[:, :, start:], layer.values[:, :, start:]
            self._mask = self._mask[:, start:]

    def _release_memory(self) -> None:
        """Give freed memory back to the system at most every `TRIM_EVERY_S` as replies finish: every decode step
        allocates the batch's whole cache anew, and the allocator otherwise keeps the old ones (the process grew
        by a gigabyte over a minute of load)."""
        now = time.perf_counter()
        if self._trim is not None and now - self._trimmed_at >= TRIM_EVERY_S:
            self._trimmed_at = now
            self._trim(0)


def _left_pad(tensor: Any, width: int, dim: int) -> Any:
    """`tensor` widened to `width` along `dim` with zeros on the left (cache rows, mask rows)."""
    import torch

    missing = width - tensor.shape[dim]
    if missing <= 0:
        return tensor
    return torch.nn.functional.pad(tensor, [0, 0] * (tensor.dim() - 1 - dim) + [missing, 0])
