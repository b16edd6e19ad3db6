"""The naive baseline `shopbot bench` compares against: the same store, dialogue, actions and server, with the same
models called the plain way, one message at a time, through Hugging Face pipelines on PyTorch.

- intent and sentiment: a `feature-extraction` pipeline over the trained NLU encoder, then its two heads;
- query embeddings: a `feature-extraction` pipeline over the (FAQ-tuned) MiniLM, mean-pooled and normalised;
- replies: a `text-generation` pipeline with a streamer (Hugging Face `generate`, one reply at a time).

Every model call runs on one worker thread, so one message is in a model at a time (the event loop stays free
for the sockets). No ONNX Runtime, no batching, no shared decode steps: what a first version would do.

    python benchmarks/baseline/naive_server.py --port 5006 [--config shopbot.yml]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bot.app import build_bot, load_responder, warm_up  # noqa: E402
from bot.config import BatchingSettings, load_settings  # noqa: E402
from bot.knowledge import open_store  # noqa: E402
from bot.nlu.parser import NluParser  # noqa: E402
from bot.nlu.pipeline import latest_model, load_store_parser  # noqa: E402
from bot.generation.transformers_backend import Cancelled, TransformersGenerator, queue_streamer  # noqa: E402
from bot.responder.lm import LanguageModel  # noqa: E402
from bot.responder.responder import Responder  # noqa: E402

MODEL_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="naive-model")  # one message in a model at a time


class PipelineParser(NluParser):
    """The trained NLU model run through a `feature-extraction` pipeline, one message per call."""

    def __init__(self, parser: NluParser):
        from transformers import pipeline

        super().__init__(parser.model, parser.tokenizer, parser.metadata, parser.extractor)
        self.pipe = pipeline("feature-extraction", model=parser.model.encoder, tokenizer=parser.tokenizer,
                             device="cpu", framework="pt", return_tensors=True)

    def _probabilities(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        import torch

        from bot.nlu.model import softmax

        intents, sentiments = [], []
        with torch.inference_mode():
            for text in texts:
                tokens = self.pipe(text, tokenize_kwargs={"truncation": True,
                                                          "max_length": int(self.metadata.get("max_tokens", 64))})
                pooled = tokens[0].mean(dim=0)  # one message, no padding: the mean over its tokens
                intents.append(self.model.intent_head(pooled).numpy())
                sentiments.append(self.model.sentiment_head(pooled).numpy())
        return (softmax(np.stack(intents) / self.metadata.get("intent_temperature", 1.0)),
                softmax(np.stack(sentiments) / self.metadata.get("sentiment_temperature", 1.0)))

    async def parse_async(self, text: str) -> dict[str, Any]:
        return await asyncio.get_running_loop().run_in_executor(MODEL_THREAD, self.parse, text)


class PipelineEmbedder:
    """Query embeddings from a `feature-extraction` pipeline over the index's own MiniLM, one query per call."""

    def __init__(self, embedder: Any):
        from transformers import pipeline

        embedder.warm_up()
        self.inner = embedder
        self.batcher = None
        transformer = embedder._model[0]
        self.pipe = pipeline("feature-extraction", model=transformer.auto_model, tokenizer=transformer.tokenizer,
                             device="cpu", framework="pt", return_tensors=True)

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def encode(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        return np.stack([self.encode_query(text) for text in texts])

    def encode_query(self, text: str) -> np.ndarray:
        import torch

        with torch.inference_mode():
            pooled = self.pipe(text, tokenize_kwargs={"truncation": True})[0].mean(dim=0)
        return (pooled / pooled.norm()).numpy().astype(np.float32)

    async def encode_query_async(self, text: str) -> np.ndarray:
        return await asyncio.get_running_loop().run_in_executor(MODEL_THREAD, self.encode_query, text)


class PipelineGenerator(TransformersGenerator):
    """Replies from a `text-generation` pipeline (Hugging Face `generate`), streamed, one at a time on the model
    thread."""

    def __init__(self, lm: LanguageModel):
        from transformers import pipeline

        super().__init__(lm)
        self._executor = MODEL_THREAD
        self.pipe = pipeline("text-generation", model=lm.model, tokenizer=lm.tokenizer, device="cpu")

    def _generate(self, text: str, max_tokens: int, queue: asyncio.Queue, loop: asyncio.AbstractEventLoop,
                  stop: Any) -> None:
        from transformers import StoppingCriteriaList

        streamer = queue_streamer(self.lm.tokenizer, queue, loop, skip_prompt=True)
        try:
            self.pipe(text, max_new_tokens=max_tokens, do_sample=False, streamer=streamer,
                      return_full_text=False, add_special_tokens=not self.lm.chat_format,
                      pad_token_id=self.lm.tokenizer.pad_token_id, eos_token_id=self.lm.stop_token_ids or None,
                      stopping_criteria=StoppingCriteriaList([Cancelled(stop)]))
        except Exception as exc:  # noqa: BLE001 - handed to the reply's stream
            loop.call_soon_threadsafe(queue.put_nowait, exc)
        finally:
            loop.call_soon_threadsafe(queue.put_nowait, None)


def main() -> None:
    from aiohttp import web

    from bot import logs
    from bot.server import create_app

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", type=Path)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5006)
    args = parser.parse_args()
    settings = load_settings(args.config)
    settings = settings.model_copy(update={"batching": BatchingSettings(enabled=False), "device": "cpu",
                                           "responder": settings.responder.model_copy(update={"engine": "transformers"}),
                                           "embedding_backend": "torch"})
    store = open_store(settings)
    store.index.embedder = PipelineEmbedder(store.index.embedder)  # product search shares this index
    folder = latest_model(store.kb, settings.cache_dir)
    nlu = PipelineParser(load_store_parser(store.kb, folder, onnx=False)) if folder is not None else None
    responder = load_responder(settings, store.kb)
    if responder.generator is not None:  # the same LM in PyTorch (engine: transformers), through a pipeline
        options = settings.responder
        responder = Responder(PipelineGenerator(responder.generator.lm), responder.names, options.max_new_tokens,
                              options.prompt_tokens, facts=responder.facts, vocabulary=responder.vocabulary)
    bot = build_bot(settings, store, responder, nlu)
    warm_up(bot)
    logs.configure()
    print(f"naive baseline ready: http://{args.host}:{args.port}/", file=sys.stderr, flush=True)
    web.run_app(create_app(bot, settings), host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()
