"""The widget's opening: a greeting in the store's name and 3-4 suggested questions, served with
`GET /widget/config` (`greeting`) and shown, clickable, when the panel opens on an empty conversation.

The suggestions are the store's most asked FAQ entries when the conversation store can tell (an entry counts once
per chat whose grounded answer cited it first, over the last `window_days`, and only from `min_chats` chats on), topped
up with the FAQ's topics (an entry of each of the topics it has most entries for) when fewer are known. With an NLU,
only questions the bot answers from the knowledge base are suggested: "Can I cancel my order?" starts the cancel
form (it asks for an order number), so another entry of that topic stands in. The counts are read from the
conversation store at most once per `refresh_s`, in a worker thread; a store that cannot be read leaves the
topics. Nothing here is stored: the greeting is the widget's, not a turn of the conversation."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from bot.dialogue.store import ConversationStore
from retrieval.documents import FaqEntry
from retrieval.loaders import KnowledgeBase

log = logging.getLogger("shopbot.greeting")
MOST_ASKED, TOPICS = "most_asked", "faq_topics"


def greeting_text(store_name: str) -> str:
    """The opening line, in the store's name."""
    return f"Hi! Welcome to {store_name}. I can help with orders, shipping, returns and our products. " \
           "What can I do for you?"


def topic_entries(faq: list[FaqEntry], count: int, answered: Callable[[FaqEntry], bool] = lambda _: True
                  ) -> list[FaqEntry]:
    """The first `answered` entry of each of the `count` topics (with such an entry) the FAQ has most entries for
    (ties in file order); the first `count` answered entries when no entry has a topic."""
    by_topic: dict[str, list[FaqEntry]] = {}
    for entry in faq:
        if entry.topic:
            by_topic.setdefault(entry.topic, []).append(entry)
    if not by_topic:
        return [e for e in faq if answered(e)][:count]
    picked = []
    for topic in sorted(by_topic, key=lambda t: -len(by_topic[t])):   # stable: ties keep file order
        entry = next((e for e in by_topic[topic] if answered(e)), None)
        if entry is not None:
            picked.append(entry)
        if len(picked) == count:
            break
    return picked


AnswerCheck = Callable[[list[str]], list[bool]]


def answer_check(parser: Any, domain: Any, ask_below: float) -> AnswerCheck:
    """Whether the bot answers each question from the knowledge base: the NLU is sure of its intent
    (`ask_below`) and that intent has no rule, or a rule that answers (not a form, an action or a canned response)."""

    def check(texts: list[str]) -> list[bool]:
        out = []
        for parsed in parser.parse_batch(texts):
            intent = parsed.get("intent") or {}
            rule = domain.rule_for(intent.get("name")) if intent.get("name") else None
            sure = float(intent.get("confidence") or 0.0) >= ask_below
            out.append(sure and (rule is None or rule.answer))
        return out

    return check


def asked_counts(store: ConversationStore, since: float) -> Counter[str]:
    """How many chats since `since` had a grounded answer that cited each FAQ source first (`faq:ID` -> chats)."""
    from bot.analytics.chats import read_chats

    counts: Counter[str] = Counter()
    for chat in read_chats(store, since=since):
        cited = {t.answer_sources[0] for t in chat.turns if t.answer_sources}
        counts.update(s for s in cited if s.startswith("faq:"))
    return counts


class WidgetGreeting:
    """The greeting and suggestions for one store."""

    def __init__(self, kb: KnowledgeBase, store: ConversationStore | None, count: int = 4, min_chats: int = 3,
                 window_days: float = 30, refresh_s: float = 600, clock: Callable[[], float] = time.time,
                 answers: AnswerCheck | None = None):
        self.kb = kb
        self.answers = answers          # None: every FAQ question may be suggested (no NLU to ask)
        self._answered: dict[str, bool] | None = None
        self.store = store
        self.count = count
        self.min_chats = min_chats
        self.window_s = window_days * 86400
        self.refresh_s = refresh_s
        self.clock = clock
        self.faq = {f"faq:{e.id}": e for e in kb.faq}
        self._counts: Counter[str] | None = None
        self._read_at = float("-inf")
        self._reading: asyncio.Task[Counter[str] | None] | None = None

    def answered(self, entry: FaqEntry) -> bool:
        """Whether the bot answers this entry's question as asked (after `check_answers`; True without an NLU)."""
        return self._answered is None or self._answered.get(entry.question, True)

    def check_answers(self) -> None:
        """Ask the NLU once which FAQ questions the bot answers (blocking: run it in a thread)."""
        if self.answers is not None and self._answered is None:
            questions = [e.question for e in self.kb.faq]
            self._answered = dict(zip(questions, self.answers(questions), strict=True)) if questions else {}

    def suggestions(self, counts: Counter[str] | None) -> tuple[list[dict[str, str]], str]:
        """(suggestions, where they came from): the most asked entries first, then topics not already there."""
        asked = [self.faq[s] for s, n in (counts or Counter()).most_common()
                 if n >= self.min_chats and s in self.faq and self.answered(self.faq[s])]
        picked = asked[: self.count]
        for entry in topic_entries(self.kb.faq, self.count, self.answered):
            if len(picked) >= self.count:
                break
            if entry not in picked:
                picked.append(entry)
        return [{"title": e.question, "payload": e.question} for e in picked], MOST_ASKED if asked else TOPICS

    async def config(self) -> dict[str, Any]:
        """`{"greeting": {"text", "suggestions": [{"title", "payload"}], "from"}}` for `GET /widget/config`."""
        if self.answers is not None and self._answered is None:
            try:
                await asyncio.to_thread(self.check_answers)
            except Exception as exc:  # noqa: BLE001 - the NLU failed: suggest without the check this time
                log.warning("suggested questions not checked with the NLU: %s", type(exc).__name__)
        suggestions, source = self.suggestions(await self._fresh_counts())
        return {"greeting": {"text": greeting_text(self.kb.name), "suggestions": suggestions, "from": source}}

    async def _fresh_counts(self) -> Counter[str] | None:
        if self.store is None:
            return None
        if self.clock() - self._read_at < self.refresh_s:
            return self._counts
        if self._reading is None:   # one read at a time; concurrent requests wait for it
            self._reading = asyncio.create_task(self._read())
        reading = self._reading
        try:
            return await asyncio.shield(reading)
        finally:
            if self._reading is reading and reading.done():
                self._reading = None

    async def _read(self) -> Counter[str] | None:
        store = self.store
        assert store is not None
        try:
            counts = await asyncio.to_thread(asked_counts, store, self.clock() - self.window_s)
        except Exception as exc:  # noqa: BLE001 - the store is down or not SQL: the topics stand in
            log.warning("most asked questions unavailable: %s", type(exc).__name__)
            counts = self._counts
        else:
            self._counts = counts
        self._read_at = self.clock()
        return counts
