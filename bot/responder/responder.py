"""Write a grounded reply with the causal LM, streamed sentence by sentence through the grounding guard.

The LM runs on whichever engine the settings chose (`bot.generation`: llama.cpp on the CPU, vLLM on CUDA, a
transformers model, or an OpenAI-compatible server); the responder only sees text pieces. A sentence is sent only
once it is complete and the guard accepts it; when the first sentence fails the guard, generation stops and the
reply is the best source's own text (so it is when nothing survives).
Closing the stream (a disconnect) cancels the request. When the engine's queue means a reply would start later
than `deadline_ms`, the turn is answered from its source at once instead of waiting (`Reply.deadline`).

>>> responder = Responder(open_generator(settings))
>>> async for chunk in responder.stream(ReplyRequest("how long do refunds take?", sources)):
...     print(chunk, end="")
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field

from bot import metrics
from bot.generation.base import TextGenerator
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
    deadline: bool = False  # answered from the source because the LM's queue would have made it late


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


def as_generator(lm: TextGenerator | LanguageModel | None) -> TextGenerator | None:
    """A text generator for `lm`: itself, or a loaded Hugging Face model on the transformers engine."""
    if isinstance(lm, LanguageModel):
        from bot.generation.transformers_backend import TransformersGenerator

        return TransformersGenerator(lm)
    return lm


class Responder:
    """Grounded, cited, streamed replies from a causal LM."""

    def __init__(self, generator: TextGenerator | LanguageModel | None, names: Iterable[str] = (),
                 max_new_tokens: int = 72, prompt_tokens: int = 640, facts: Iterable[str] = (),
                 vocabulary: Iterable[str] = (), deadline_ms: float | None = None):
        """With `generator=None` the responder is extractive: it answers with the best source's most relevant
        sentences. A `LanguageModel` runs on the transformers engine.

        `facts` are the store's fact lines (`store_fact_lines`), support for the guard besides each reply's
        sources; `vocabulary` the store's ordinary words (`lowercase_words`), never taken for invented names;
        `deadline_ms` the longest a reply may wait for the LM's queue before it is quoted instead (None: wait)."""
        self.generator = as_generator(generator)
        self.names = tuple(names)  # a tuple: the guard caches its normalised form
        self.facts = tuple(facts)
        self.vocabulary = frozenset(vocabulary)
        self.max_new_tokens = max_new_tokens
        self.deadline_ms = deadline_ms
        self.prompts: PromptBuilder | None = None
        if self.generator is not None:
            room = self.generator.prompt_format.context_size - max_new_tokens
            self.prompts = PromptBuilder(self.generator.prompt_format, min(prompt_tokens, room))

    @property
    def mode(self) -> str:
        """"generate" (the LM writes, the guard checks) or "extractive" (the sources' own sentences)."""
        return "generate" if self.generator is not None else "extractive"

    def describe(self) -> str:
        """What writes the replies, for logs and the CLI: "extractive", or the model, engine and device."""
        if self.generator is None:
            return "extractive"
        return f"generate with {self.generator.model} on {self.generator.name} ({self.generator.device})"

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

    def _late(self) -> bool:
        """True when a reply asked for now would start after the deadline."""
        if self.generator is None:
            return False
        wait_ms = self.generator.expected_wait_ms()
        metrics.LM_WAIT_SECONDS.observe(wait_ms / 1000)
        return self.deadline_ms is not None and wait_ms > self.deadline_ms

    async def _run(self, request: ReplyRequest, holder: ReplyStream) -> AsyncIterator[str]:
        started = time.perf_counter()
        sent: list[str] = []
        dropped: list[Verdict] = []
        first_chunk_ms: float | None = None
        late = bool(request.sources) and self._late()
        if request.sources and self.generator is not None and not late and self.generator is not None:
            async for sentence in self._generated(request, holder, dropped):
                sent.append(sentence)
                if first_chunk_ms is None:
                    first_chunk_ms = (time.perf_counter() - started) * 1000
                yield sentence + " "
        fallback = not sent
        if fallback:
            text = request.fallback or extract_answer(request.question, request.sources)
            if text:
                first_chunk_ms = (time.perf_counter() - started) * 1000
                sent.append(text)
                yield text
        if request.sources:
            metrics.REPLIES.labels("extractive" if self.generator is None else "deadline" if late
                                   else "fallback" if fallback else "generated").inc()
        holder.reply = Reply(" ".join(sent).strip(), _cited(request.sources, sent, fallback), fallback, dropped,
                             first_chunk_ms, (time.perf_counter() - started) * 1000, holder.generated_tokens, late)

    async def _generated(self, request: ReplyRequest, holder: ReplyStream,
                         dropped: list[Verdict]) -> AsyncIterator[str]:
        """The LM's sentences that the guard accepts, as they complete; a failed engine ends them early."""
        # Support is the sources and the store's facts only: what the shopper wrote makes a sentence relevant, never true.
        guard = GroundingGuard([s.text for s in request.sources] + [s.title for s in request.sources], self.names,
                               facts=self.facts, relevant=[request.question] + [t for _, t in request.history],
                               allowed=[request.store], vocabulary=self.vocabulary)
        sent: list[str] = []
        pieces = self.generator.stream(self.prompts.build(request), self.max_new_tokens)
        buffer = ""
        try:
            finished = False
            while not finished:
                try:
                    piece = await anext(pieces)
                    holder.generated_tokens += piece.tokens
                    metrics.GENERATED_TOKENS.inc(piece.tokens)
                    buffer += piece.text
                except StopAsyncIteration:
                    finished = True
                except Exception:  # a failed generation degrades to the sources' own words, never to an error
                    log.exception("generation failed; replying with what was guarded so far or the source text")
                    finished = True
                cut = min((buffer.find(m) for m in STOP_MARKERS if m in buffer), default=-1)
                if cut >= 0:
                    buffer, finished = buffer[:cut], True
                complete, buffer = _complete_sentences(buffer, finished)
                if finished and complete and not complete[-1].rstrip("\"')").endswith((".", "!", "?")):
                    complete.pop()  # cut off by the token limit mid-sentence: never send half a sentence
                for sentence in complete:
                    sentence = _without_title(sentence, request.sources)
                    verdict = guard.check(sentence)
                    if not verdict.supported or sentence in sent:
                        dropped.append(verdict)
                        # A reply that opens with an unsupported sentence is not trusted (the source is quoted at
                        # once, without waiting for the rest); a small model repeating itself is stopped too.
                        if not sent or sentence in sent:
                            finished = True
                            break
                        continue
                    sent.append(sentence)
                    yield sentence
        finally:
            await pieces.aclose()


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
