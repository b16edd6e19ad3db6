"""Write a grounded reply with the causal LM, streamed sentence by sentence through the grounding guard.

Generation runs off the event loop: on the generation scheduler when batching is on (the replies of concurrent
conversations decode together), else in a worker thread with `generate`; tokens come back through a streamer into
an asyncio queue. A sentence is sent only once it is complete and the guard accepts it; when nothing survives, the
reply is the best source's own text. Closing the stream (a disconnect) stops generation at the next token.

>>> responder = Responder(load_language_model())
>>> async for chunk in responder.stream(ReplyRequest("how long do refunds take?", sources)):
...     print(chunk, end="")
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from bot.inference.generation import GenerationScheduler, supports_batching
from bot.responder.grounding import SENTENCE_END, GroundingGuard, Verdict, split_sentences
from bot.responder.lm import LanguageModel
from bot.responder.prompt import PromptBuilder, ReplyRequest, Source
from retrieval.text import keyword_tokens as tokens

log = logging.getLogger("shopbot.responder")
STOP_MARKERS = ("\nCustomer:", "\nAssistant:", "\nFacts:", "\n\n\n")
FALLBACK_SENTENCES = 3  # a long policy section falls back to its sentences nearest the question


@dataclass
class Reply:
    """A finished reply: its text, the sources it cites (best first), and how it was made."""

    text: str
    sources: list[str]
    fallback: bool = False
    dropped: list[Verdict] = field(default_factory=list)
    first_chunk_ms: float | None = None
    total_ms: float = 0.0
    generated_tokens: int = 0


class _Cancelled:
    """A stopping criterion that ends generation once the reply's stream is closed."""

    def __init__(self, event: threading.Event):
        self.event = event

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        return torch.full((input_ids.shape[0],), self.event.is_set(), dtype=torch.bool, device=input_ids.device)


def queue_streamer(tokenizer: Any, queue: asyncio.Queue, loop: asyncio.AbstractEventLoop, holder: ReplyStream,
                   skip_prompt: bool) -> Any:
    """A Hugging Face `TextStreamer` that decodes tokens as they come, counts them on `holder`, and hands the text
    to the event loop's queue as `(text, finished)`."""
    from transformers import TextStreamer

    class _QueueStreamer(TextStreamer):
        def put(self, value: Any) -> None:
            if not (self.skip_prompt and self.next_tokens_are_prompt):
                holder.generated_tokens += int(value.numel())
            super().put(value)

        def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, (text, stream_end))

    return _QueueStreamer(tokenizer, skip_prompt=skip_prompt, skip_special_tokens=True)


class ReplyStream:
    """Async iterator of reply chunks; `reply` is set once it is exhausted. `aclose()` stops generation.

    `produce` makes the chunk generator, given this stream (so the generator can fill in `reply`).
    """

    def __init__(self, produce: Callable[[ReplyStream], AsyncIterator[str]]):
        self.reply: Reply | None = None
        self.generated_tokens = 0  # tokens the LM has produced so far (live while generating)
        self._chunks = produce(self)

    def __aiter__(self) -> AsyncIterator[str]:
        return self._chunks

    async def aclose(self) -> None:
        await self._chunks.aclose()  # type: ignore[attr-defined]


class Responder:
    """Grounded, cited, streamed replies from a causal LM."""

    def __init__(self, lm: LanguageModel | None, names: Iterable[str] = (), max_new_tokens: int = 72,
                 prompt_tokens: int = 640, workers: int = 2, facts: Iterable[str] = (),
                 vocabulary: Iterable[str] = ()):
        """With `lm=None` the responder is extractive: it answers with the best source's most relevant sentences.

        `facts` are the store's fact lines (`store_fact_lines`), support for the guard besides each reply's
        sources; `vocabulary` the store's ordinary words (`lowercase_words`), never taken for invented names."""
        self.lm = lm
        self.names = tuple(names)  # a tuple: the guard caches its normalised form
        self.facts = tuple(facts)
        self.vocabulary = frozenset(vocabulary)
        self.max_new_tokens = max_new_tokens
        self.prompts = (PromptBuilder(lm.tokenizer, lm.chat_format, min(prompt_tokens, lm.context_size - max_new_tokens))
                        if lm is not None else None)
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="responder")
        self.scheduler: GenerationScheduler | None = None  # set by `batch()`

    def batch(self, max_batch: int = 8, max_wait_ms: float = 2.0) -> bool:
        """Decode concurrent replies together from now on (continuous batching). False when the LM's cache cannot
        be batched (replies are then generated one by one, as before) or there is no LM."""
        if self.lm is None or not supports_batching(self.lm.model):
            return False
        self.scheduler = GenerationScheduler(self.lm.model, max_batch, max_wait_ms)
        return True

    @property
    def mode(self) -> str:
        """"generate" (the LM writes, the guard checks) or "extractive" (the sources' own sentences)."""
        return "generate" if self.lm is not None else "extractive"

    def stream(self, request: ReplyRequest) -> ReplyStream:
        """Start a reply; iterate the result for its chunks (guarded sentences, each ending in a space)."""
        return ReplyStream(lambda holder: self._run(request, holder))

    async def respond(self, request: ReplyRequest) -> Reply:
        """The whole reply at once."""
        stream = self.stream(request)
        async for _ in stream:
            pass
        assert stream.reply is not None
        return stream.reply

    async def _run(self, request: ReplyRequest, holder: ReplyStream) -> AsyncIterator[str]:
        started = time.perf_counter()
        # Support is the sources and the store's facts only: what the shopper wrote makes a sentence relevant, never true.
        guard = GroundingGuard([s.text for s in request.sources] + [s.title for s in request.sources], self.names,
                               facts=self.facts, relevant=[request.question] + [t for _, t in request.history],
                               allowed=[request.store], vocabulary=self.vocabulary)
        sent: list[str] = []
        dropped: list[Verdict] = []
        first_chunk_ms: float | None = None
        stop = threading.Event()
        queue: asyncio.Queue[tuple[str, bool]] = asyncio.Queue()
        job: asyncio.Future | None = None
        if request.sources and self.lm is not None:
            loop = asyncio.get_running_loop()
            prompt = self.prompts.build(request)
            if self.scheduler is not None:
                try:
                    job = asyncio.wrap_future(self._submit(prompt, queue, loop, stop, holder))
                except ValueError as exc:  # a prompt the model cannot take: the sources' own words instead
                    log.warning("generation refused: %s", exc)
            else:
                job = loop.run_in_executor(self._executor, self._generate, prompt, queue, loop, stop, holder)
        try:
            buffer = ""
            finished = job is None
            while not finished:
                text, finished = await queue.get()
                buffer += text
                cut = min((buffer.find(m) for m in STOP_MARKERS if m in buffer), default=-1)
                if cut >= 0:
                    buffer, finished = buffer[:cut], True
                    stop.set()
                complete, buffer = _complete_sentences(buffer, finished)
                if finished and complete and not complete[-1].rstrip("\"')").endswith((".", "!", "?")):
                    complete.pop()  # cut off by the token limit mid-sentence: never send half a sentence
                for sentence in complete:
                    sentence = _without_title(sentence, request.sources)
                    verdict = guard.check(sentence)
                    if not verdict.supported or sentence in sent:
                        dropped.append(verdict)
                        if sentence in sent:  # a small model repeating itself: stop it
                            stop.set()
                        continue
                    sent.append(sentence)
                    if first_chunk_ms is None:
                        first_chunk_ms = (time.perf_counter() - started) * 1000
                    yield sentence + " "
            if job is not None:
                try:
                    await job
                except Exception:  # a failed generation degrades to the sources' own words, never to an error
                    log.exception("generation failed; replying with the source text")
            fallback = not sent
            if fallback:
                text = request.fallback or extract_answer(request.question, request.sources)
                if text:
                    first_chunk_ms = (time.perf_counter() - started) * 1000
                    sent.append(text)
                    yield text
            holder.reply = Reply(" ".join(sent).strip(), _cited(request.sources, sent, fallback), fallback, dropped,
                                 first_chunk_ms, (time.perf_counter() - started) * 1000, holder.generated_tokens)
        finally:
            stop.set()
            if job is not None and not job.done():
                await asyncio.shield(job)

    def _submit(self, prompt: str, queue: asyncio.Queue, loop: asyncio.AbstractEventLoop, stop: threading.Event,
                holder: ReplyStream) -> Future:
        """Queue the reply on the generation scheduler; its tokens are decoded into the event loop's queue."""
        import torch

        tokenizer = self.lm.tokenizer
        streamer = queue_streamer(tokenizer, queue, loop, holder, skip_prompt=False)

        def sink(tokens: list[int], finished: bool) -> None:
            if tokens:
                streamer.put(torch.tensor(tokens))
            if finished:
                streamer.end()

        ids = tokenizer(prompt, add_special_tokens=not self.lm.chat_format)["input_ids"]
        return self.scheduler.submit(ids, self.max_new_tokens, self.lm.stop_token_ids, sink, stop)

    def _generate(self, prompt: str, queue: asyncio.Queue, loop: asyncio.AbstractEventLoop, stop: threading.Event,
                  holder: ReplyStream) -> None:
        """Run `generate` in a worker thread, pushing decoded text into the event loop's queue."""
        import torch
        from transformers import StoppingCriteriaList

        tokenizer = self.lm.tokenizer
        streamer = queue_streamer(tokenizer, queue, loop, holder, skip_prompt=True)
        try:
            inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=not self.lm.chat_format).to(self.lm.device)
            room = self.lm.context_size - int(inputs["input_ids"].shape[1])  # never run past the model's positions
            with torch.inference_mode():
                # No repetition penalty: it would punish copying facts from the prompt, which is the point.
                self.lm.model.generate(**inputs, max_new_tokens=max(1, min(self.max_new_tokens, room)), do_sample=False,
                                       streamer=streamer, pad_token_id=tokenizer.pad_token_id,
                                       eos_token_id=self.lm.stop_token_ids or None,
                                       stopping_criteria=StoppingCriteriaList([_Cancelled(stop)]))
        except Exception:
            loop.call_soon_threadsafe(queue.put_nowait, ("", True))
            raise


def _complete_sentences(buffer: str, finished: bool) -> tuple[list[str], str]:
    """Split off the sentences of `buffer` that are complete; the rest stays buffered (all of it when finished)."""
    if finished:
        return split_sentences(buffer), ""
    ends = list(SENTENCE_END.finditer(buffer))
    if not ends:
        return [], buffer
    last = ends[-1].start()
    return split_sentences(buffer[:last]), buffer[last:].lstrip()


def extract_answer(question: str, sources: list[Source], max_sentences: int = FALLBACK_SENTENCES) -> str:
    """The best source's own words: all of a short answer; of a long section, the sentences that share the most
    words with the question (kept in their order)."""
    if not sources:
        return ""
    sentences = split_sentences(sources[0].text)
    if len(sentences) <= max_sentences:
        return " ".join(sentences)
    wanted = set(tokens(question))
    scores = [(len(wanted & set(tokens(sentence))), -i) for i, sentence in enumerate(sentences)]
    keep = sorted(sorted(range(len(sentences)), key=lambda i: scores[i], reverse=True)[:max_sentences])
    return " ".join(sentences[i] for i in keep)


def _without_title(sentence: str, sources: list[Source]) -> str:
    """Drop a source's title that the model echoed before the answer ("How long do refunds take?: Refunds ...")."""
    for source in sources:
        if source.title and sentence.startswith(source.title) and sentence[len(source.title):].startswith(":"):
            return sentence[len(source.title) + 1:].strip()
    return sentence


def _cited(sources: list[Source], sentences: list[str], fallback: bool) -> list[str]:
    """Ids of the sources the sentences draw on, the one they share most words with first; the best-ranked
    source when nothing overlaps."""
    if not sources:
        return []
    if fallback:
        return [sources[0].id]
    said = set(tokens(" ".join(sentences)))
    if not said:
        return [sources[0].id]
    shares = [(len(said & set(tokens(s.text))) / len(said), -rank, s.id) for rank, s in enumerate(sources)]
    cited = [source_id for share, _, source_id in sorted(shares, reverse=True) if share >= 0.3]
    return cited or [sources[0].id]


def fixed_reply(text: str) -> ReplyStream:
    """A stream that says one fixed thing and cites nothing."""

    async def chunks(holder: ReplyStream) -> AsyncIterator[str]:
        holder.reply = Reply(text, [], fallback=True, first_chunk_ms=0.0)
        yield text

    return ReplyStream(chunks)
