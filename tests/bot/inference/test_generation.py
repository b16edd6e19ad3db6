"""Continuous batching of generation on tiny models the test builds: replies that join and leave the batch at
different steps decode exactly what `generate` writes for each alone; stop tokens, limits and cancellation end
one reply without disturbing the others; a failing reply fails alone."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from typing import TYPE_CHECKING

import pytest

from bot import metrics
from bot.inference.generation import GenerationScheduler, supports_batching
from bot.inference.prefix_cache import PrefixCache

if TYPE_CHECKING:  # torch and transformers load when a test builds a model, not at collection
    import torch
    from transformers import GPT2LMHeadModel, LlamaForCausalLM

PROMPTS = [[5, 6, 7, 8, 9, 10, 11], [20, 21, 22], list(range(30, 60)), [100], [7] * 12, [250, 3, 250, 3]]


def tiny_llama() -> LlamaForCausalLM:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=300, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128)
    return LlamaForCausalLM(config).eval()


def tiny_gpt2() -> GPT2LMHeadModel:
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(1)
    return GPT2LMHeadModel(GPT2Config(vocab_size=300, n_embd=64, n_layer=2, n_head=4, n_positions=128)).eval()


def alone(model: torch.nn.Module, prompt: list[int], max_new_tokens: int, stop: int | None = None) -> list[int]:
    """What Hugging Face's own `generate` writes for one prompt (greedy)."""
    import torch

    out = model.generate(torch.tensor([prompt]), max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=stop,
                         pad_token_id=0)
    tokens = out[0, len(prompt):].tolist()
    return tokens[:tokens.index(stop)] if stop is not None and stop in tokens else tokens


class Collector:
    def __init__(self) -> None:
        self.tokens: list[int] = []
        self.finished = 0

    def __call__(self, tokens: list[int], finished: bool) -> None:
        self.tokens.extend(tokens)
        self.finished += finished


@pytest.mark.parametrize("build", [tiny_llama, tiny_gpt2], ids=["llama", "gpt2"])
def test_batched_replies_equal_replies_generated_alone(build) -> None:
    model = build()
    assert supports_batching(model)
    expected = [alone(model, prompt, 16) for prompt in PROMPTS]
    scheduler = GenerationScheduler(model, max_batch=3, max_wait_ms=0)  # fewer slots than replies: some wait
    sinks = [Collector() for _ in PROMPTS]
    futures: list[Future] = []
    for prompt, sink in zip(PROMPTS, sinks):
        futures.append(scheduler.submit(prompt, 16, [], sink))
        time.sleep(0.002)  # joining at different steps
    try:
        written = [future.result(timeout=60) for future in futures]
    finally:
        scheduler.close()
    assert [sink.tokens for sink in sinks] == expected
    assert written == [16] * len(PROMPTS) and all(sink.finished == 1 for sink in sinks)


def test_stop_tokens_and_limits_end_one_reply_only() -> None:
    model = tiny_llama()
    free = alone(model, PROMPTS[0], 12)
    stop = free[3]                      # a token the first reply writes at its fourth step
    scheduler = GenerationScheduler(model, max_batch=4, max_wait_ms=20)
    stopped, short, full = Collector(), Collector(), Collector()
    try:
        futures = [scheduler.submit(PROMPTS[0], 12, [stop], stopped), scheduler.submit(PROMPTS[1], 2, [], short),
                   scheduler.submit(PROMPTS[2], 12, [], full)]
        assert [f.result(timeout=60) for f in futures] == [len(stopped.tokens), 2, 12]
    finally:
        scheduler.close()
    assert stopped.tokens == free[:free.index(stop)]
    assert short.tokens == alone(model, PROMPTS[1], 2)
    assert full.tokens == alone(model, PROMPTS[2], 12)


def test_a_cancelled_reply_leaves_the_batch_and_the_others_are_unchanged() -> None:
    model = tiny_llama()
    scheduler = GenerationScheduler(model, max_batch=4, max_wait_ms=20)
    cancel = threading.Event()

    class CancelAfterThree(Collector):
        def __call__(self, tokens: list[int], finished: bool) -> None:
            super().__call__(tokens, finished)
            if len(self.tokens) >= 3:
                cancel.set()

    leaving, staying = CancelAfterThree(), Collector()
    try:
        futures = [scheduler.submit(PROMPTS[2], 40, [], leaving, cancel), scheduler.submit(PROMPTS[0], 20, [], staying)]
        assert futures[0].result(timeout=60) == 3 and futures[1].result(timeout=60) == 20
    finally:
        scheduler.close()
    assert leaving.finished == 1 and staying.tokens == alone(model, PROMPTS[0], 20)


def test_a_failing_reply_does_not_fail_its_batch_mates() -> None:
    model = tiny_llama()
    scheduler = GenerationScheduler(model, max_batch=4, max_wait_ms=20)

    def broken(tokens: list[int], finished: bool) -> None:
        if tokens:
            raise OSError("the shopper's connection is gone")

    fine = Collector()
    try:
        with pytest.raises(ValueError, match="token ids"):
            scheduler.submit([5, 999], 8, [], Collector())  # refused before it can reach a batch
        with pytest.raises(ValueError, match="context"):
            scheduler.submit([5] * 128, 8, [], Collector())
        futures = [scheduler.submit(PROMPTS[1], 10, [], broken), scheduler.submit(PROMPTS[3], 10, [], fine)]
        assert futures[0].result(timeout=60) == 1   # its first token went to the broken sink: it ended there
        assert futures[1].result(timeout=60) == 10
    finally:
        scheduler.close()
    assert fine.tokens == alone(model, PROMPTS[3], 10)


def cached_prefill_tokens() -> float:
    return metrics.REGISTRY.get_sample_value("shopbot_prefill_tokens_total", {"source": "cached"}) or 0.0


def test_prompts_sharing_a_prefix_reuse_its_states_and_decode_the_same() -> None:
    model = tiny_llama()
    shared = list(range(40, 80))                       # two whole blocks of 16 tokens, and 8 more
    first, second = shared + [5, 6, 7], shared + [9, 9]
    scheduler = GenerationScheduler(model, max_batch=2, max_wait_ms=0)
    one, two = Collector(), Collector()
    try:
        scheduler.submit(first, 10, [], one).result(timeout=60)
        before = cached_prefill_tokens()
        scheduler.submit(second, 10, [], two).result(timeout=60)
    finally:
        scheduler.close()
    assert cached_prefill_tokens() - before == 32     # the second prompt's prefill started after the shared blocks
    assert one.tokens == alone(model, first, 10) and two.tokens == alone(model, second, 10)


def test_the_prefix_cache_forgets_the_least_recently_used_prompt_first() -> None:
    import torch

    cache = PrefixCache(max_tokens=40, block=16)
    layers = [(torch.zeros(1, 2, 40, 4), torch.zeros(1, 2, 40, 4))]
    a, b, c = [1] * 40, [2] * 40, [3] * 40
    cache.store(a, layers)                               # 32 tokens kept (two whole blocks)
    assert cache.lookup(a + [9])[0] == 32 and cache.lookup([1] * 20)[0] == 16
    cache.store(b, layers)                               # 64 > 40: the oldest prompt goes
    assert cache.lookup(a + [9]) == (0, None) and cache.lookup(b + [9])[0] == 32
    cache.store(c, layers)
    assert cache.lookup(b + [9]) == (0, None) and cache.lookup(c + [9])[0] == 32
    assert cache.lookup([3] * 10) == (0, None)         # shorter than a block: nothing to reuse
