"""One runner per engine of the bake-off, each writing greedy replies of exactly `new_tokens` tokens (stop tokens
ignored, so every engine does the same work) for prompts given as the packaged tokenizer's token ids.

`reply` times one reply alone; `replies` submits many prompts at the same instant and times each, the way the
engine serves concurrent requests: continuous batching (llama.cpp with one sequence per reply),
one static batch (CTranslate2's `generate_batch`), or one after another (llama-cpp-python's `Llama`, which
serves one request at a time, as its server does; Hugging Face `generate`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Timing:
    """One reply: when its first token and its last token came, from the moment it was asked for (ms)."""

    first_ms: float
    total_ms: float
    tokens: list[int] = field(default_factory=list)


class _Clock:
    """Token arrival times of one reply, relative to `started`."""

    def __init__(self, started: float):
        self.started = started
        self.first: float | None = None
        self.last = started
        self.tokens: list[int] = []

    def add(self, token: int) -> None:
        now = time.perf_counter()
        if self.first is None:
            self.first = now
        self.last = now
        self.tokens.append(int(token))

    def timing(self) -> Timing:
        first = self.first if self.first is not None else self.last
        return Timing((first - self.started) * 1000, (self.last - self.started) * 1000, self.tokens)


class TransformersRunner:
    """The fp32 PyTorch model through Hugging Face `generate`, one reply at a time: the quality reference (the
    home-made continuous-batching scheduler measured in the first step of the bake-off, commit cb02915, wrote
    the same tokens and was removed when llama.cpp won)."""

    name = "transformers"
    concurrency = "one at a time (generate)"

    def __init__(self, cache_dir: Path, threads: int):
        import torch

        from bot.responder.lm import load_language_model

        torch.set_num_threads(threads)
        self.torch = torch
        self.lm = load_language_model("smollm2", "cpu", cache_dir)
        self.version = f"torch {torch.__version__}, fp32"

    def reply(self, prompt: list[int], new_tokens: int, started: float | None = None) -> Timing:
        from transformers.generation.streamers import BaseStreamer

        clock = _Clock(started if started is not None else time.perf_counter())

        class _Timed(BaseStreamer):
            prompt_seen = False

            def put(self, value: Any) -> None:
                if not self.prompt_seen:
                    self.prompt_seen = True
                    return
                for token in value.reshape(-1).tolist():
                    clock.add(token)

            def end(self) -> None:
                pass

        with self.torch.inference_mode():
            self.lm.model.generate(self.torch.tensor([prompt]), max_new_tokens=new_tokens, min_new_tokens=new_tokens,
                                   do_sample=False, streamer=_Timed(), pad_token_id=self.lm.tokenizer.pad_token_id)
        return clock.timing()

    def replies(self, prompts: list[list[int]], new_tokens: int) -> list[Timing]:
        started = time.perf_counter()
        return [self.reply(prompt, new_tokens, started) for prompt in prompts]

    def close(self) -> None:
        pass


class LlamaCppRunner:
    """llama.cpp through llama-cpp-python's high-level `Llama`, reading the packaged Q4_1 GGUF as it is. One
    request at a time (the `Llama` object, and so `python -m llama_cpp.server`, serves requests in turn)."""

    name = "llama_cpp"
    concurrency = "one at a time (llama_cpp.Llama)"

    def __init__(self, gguf: Path, threads: int, context: int = 2048, batch: int = 512):
        import llama_cpp

        self.llm = llama_cpp.Llama(model_path=str(gguf), n_ctx=context, n_threads=threads, n_threads_batch=threads,
                                   n_batch=batch, verbose=False)
        self.version = f"llama-cpp-python {llama_cpp.__version__}, GGUF as shipped"

    def reply(self, prompt: list[int], new_tokens: int, started: float | None = None) -> Timing:
        self.llm.reset()  # no reuse of the previous prompt's cache: a cold prefill, like the other engines
        clock = _Clock(started if started is not None else time.perf_counter())
        for token in self.llm.generate(prompt, top_k=1, top_p=1.0, min_p=0.0, temp=0.0, repeat_penalty=1.0,
                                       reset=True):
            clock.add(token)
            if len(clock.tokens) >= new_tokens:
                break
        return clock.timing()

    def replies(self, prompts: list[list[int]], new_tokens: int) -> list[Timing]:
        started = time.perf_counter()
        return [self.reply(prompt, new_tokens, started) for prompt in prompts]

    def close(self) -> None:
        if hasattr(self.llm, "close"):
            self.llm.close()


class LlamaCppBatchedRunner:
    """llama.cpp with one sequence per reply in one shared batch (what `llama-server --parallel N` does), driven
    through llama-cpp-python's low-level binding of the C API: prompts are prefilled one by one as they arrive,
    then every running reply advances one token per `llama_decode`."""

    name = "llama_cpp_batched"
    concurrency = "continuous batching (llama.cpp sequences, low-level API)"

    def __init__(self, gguf: Path, threads: int, max_sequences: int, context_per_sequence: int = 1024,
                 batch: int = 512):
        import llama_cpp
        from llama_cpp import _internals

        self.lib = llama_cpp
        # `Llama` (0.3.36) takes no n_seq_max: it loads the model; the context for the sequences is made here.
        self.llm = llama_cpp.Llama(model_path=str(gguf), n_ctx=256, n_threads=threads, n_threads_batch=threads,
                                   n_batch=batch, verbose=False)
        params = llama_cpp.llama_context_params.from_buffer_copy(self.llm.context_params)
        params.n_ctx = context_per_sequence * max_sequences
        params.n_seq_max = max_sequences
        params.kv_unified = False  # one cache per sequence: llama.cpp's advice when they share no long prefix
        self.context = _internals.LlamaContext(model=self.llm._model, params=params, verbose=False)
        self.ctx = self.context.ctx
        self.n_vocab = self.llm.n_vocab()
        self.batch_size = batch
        self.max_sequences = max_sequences
        self.batch = llama_cpp.llama_batch_init(max(batch, max_sequences), 0, max_sequences)
        self.version = f"llama-cpp-python {llama_cpp.__version__} low-level API, GGUF as shipped"

    def _clear(self) -> None:
        lib = self.lib
        if hasattr(lib, "llama_memory_clear"):
            lib.llama_memory_clear(lib.llama_get_memory(self.ctx), True)
        else:
            lib.llama_kv_self_clear(self.ctx)

    def _decode(self, entries: list[tuple[int, int, int, bool]]) -> None:
        """One `llama_decode` of (token, position, sequence, wants logits) entries."""
        batch = self.batch
        batch.n_tokens = len(entries)
        for i, (token, position, sequence, logits) in enumerate(entries):
            batch.token[i] = token
            batch.pos[i] = position
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = sequence
            batch.logits[i] = logits
        status = self.lib.llama_decode(self.ctx, batch)
        if status != 0:
            raise RuntimeError(f"llama_decode returned {status}")

    def _argmax(self, index: int) -> int:
        import numpy as np

        logits = self.lib.llama_get_logits_ith(self.ctx, index)
        return int(np.ctypeslib.as_array(logits, shape=(self.n_vocab,)).argmax())

    def _prefill(self, prompt: list[int], sequence: int) -> int:
        """The prompt into `sequence`'s cache, in chunks of the batch size; returns the first new token."""
        chunk: list[int] = []
        for start in range(0, len(prompt), self.batch_size):
            chunk = prompt[start:start + self.batch_size]
            last = start + len(chunk) == len(prompt)
            self._decode([(t, start + i, sequence, last and i == len(chunk) - 1) for i, t in enumerate(chunk)])
        return self._argmax(len(chunk) - 1)

    def replies(self, prompts: list[list[int]], new_tokens: int) -> list[Timing]:
        if len(prompts) > self.max_sequences:
            raise ValueError(f"at most {self.max_sequences} replies at once")
        self._clear()
        started = time.perf_counter()
        clocks = [_Clock(started) for _ in prompts]
        running: list[tuple[int, int]] = []  # (sequence, next position)
        last: dict[int, int] = {}
        for sequence, prompt in enumerate(prompts):  # all arrive at once: prefill each, then decode together
            last[sequence] = self._prefill(prompt, sequence)
            clocks[sequence].add(last[sequence])
            running.append((sequence, len(prompt)))
        while running:
            running = [(s, p) for s, p in running if len(clocks[s].tokens) < new_tokens]
            if not running:
                break
            self._decode([(last[s], p, s, True) for s, p in running])
            for index, (sequence, _) in enumerate(running):
                last[sequence] = self._argmax(index)
                clocks[sequence].add(last[sequence])
            running = [(s, p + 1) for s, p in running]
        return [clock.timing() for clock in clocks]

    def reply(self, prompt: list[int], new_tokens: int) -> Timing:
        return self.replies([prompt], new_tokens)[0]

    def close(self) -> None:
        self.lib.llama_batch_free(self.batch)
        self.context.close()
        self.llm.close()


class CTranslate2Runner:
    """CTranslate2's `Generator` on an int8 conversion of the converted Hugging Face folder; replies at once
    go as one `generate_batch` (static batching: all start together, the batch ends with its longest reply)."""

    name = "ctranslate2"
    concurrency = "one static batch (generate_batch)"

    def __init__(self, model_dir: Path, tokenizer: Any, threads: int, compute_type: str = "int8"):
        import ctranslate2

        self.generator = ctranslate2.Generator(str(model_dir), device="cpu", compute_type=compute_type,
                                               intra_threads=threads, inter_threads=1)
        self.tokenizer = tokenizer
        self.version = f"ctranslate2 {ctranslate2.__version__}, {compute_type}"

    def _tokens(self, prompt: list[int]) -> list[str]:
        return self.tokenizer.convert_ids_to_tokens(prompt)

    def reply(self, prompt: list[int], new_tokens: int) -> Timing:
        clock = _Clock(time.perf_counter())
        for step in self.generator.generate_tokens(self._tokens(prompt), max_length=new_tokens, min_length=new_tokens,
                                                   sampling_topk=1, end_token=[]):
            clock.add(step.token_id)
        return clock.timing()

    def replies(self, prompts: list[list[int]], new_tokens: int) -> list[Timing]:
        started = time.perf_counter()
        clocks = [_Clock(started) for _ in prompts]

        def on_step(step: Any) -> bool:
            clocks[step.batch_id].add(step.token_id)
            return False  # go on

        self.generator.generate_batch([self._tokens(p) for p in prompts], max_batch_size=len(prompts),
                                      max_length=new_tokens, min_length=new_tokens, sampling_topk=1, end_token=[],
                                      include_prompt_in_result=False, callback=on_step)
        return [clock.timing() for clock in clocks]

    def close(self) -> None:
        if hasattr(self.generator, "unload_model"):
            self.generator.unload_model()
