"""The conversation store's events as chats and turns: the only part of the analytics that reads the store.

A **chat** is one session of a conversation (from its `session_started` to the next) with at least one shopper
message; a **turn** is one shopper message (`user` event) and the events up to the next one. Commands (`/restart`,
`/consent{...}`, `/nudge{...}`) are not shopper messages. What a turn did is read from its events:

- `fallback`: the bot said `utter_fallback` (it could not place the message);
- `dont_know`: the bot's grounded answer (`action_answer`) cited no source: the "I'm not sure" reply;
- `clarify`: the bot asked "did you mean ...?" (`utter_did_you_mean`): the NLU was unsure of the message (its top
  intent under `dialogue.ask_below`), so the bot asked instead of answering;
- `handed_off`: the turn paused the bot (a `pause` event: a person took the chat);
- `with_person`: a person already had the chat (paused before the message): the bot did not answer it;
- the shopper message's intent, its confidence, its source (`nlu` or a button `payload`) and its sentiment, from
  the `parse_data` the engine stored with it.

A `csat` event (`bot.analytics.feedback`) rates the chat it falls in; the latest one counts. Erased conversations
are simply not in the store any more, so no figure can count them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from bot.dialogue.store import ConversationStore, events

READ = ("user", "bot", "action", "pause", "resume", "session_started", "csat")
COMMAND = "command"
FALLBACK_ACTION = "utter_fallback"
ANSWER_ACTION = "action_answer"
CLARIFY_ACTION = "utter_did_you_mean"
QUIET = frozenset({"action_listen", "action_session_start"})
BATCH = 1000


@dataclass
class Turn:
    """One shopper message and what the bot did with it."""

    text: str
    timestamp: float
    intent: str | None
    confidence: float
    source: str                       # nlu, payload, none
    sentiment: str | None             # negative, neutral, positive (None: no sentiment head)
    sentiment_score: float = 0.0
    actions: list[str] = field(default_factory=list)   # what the bot ran, in order (`action_listen` left out)
    answer_sources: list[str] | None = None            # the sources the grounded answer cited (None: no answer)
    handed_off: bool = False
    with_person: bool = False

    @property
    def fallback(self) -> bool:
        return FALLBACK_ACTION in self.actions

    @property
    def dont_know(self) -> bool:
        return self.answer_sources is not None and not self.answer_sources

    @property
    def clarify(self) -> bool:
        return CLARIFY_ACTION in self.actions

    @property
    def negative(self) -> bool:
        return self.sentiment == "negative"



@dataclass
class Chat:
    """One session of a conversation. `conversation_id` is for joining only: nothing shown to an owner holds it."""

    conversation_id: str
    session: int                       # 0 for the conversation's first session
    started: float
    turns: list[Turn] = field(default_factory=list)
    pauses: list[int] = field(default_factory=list)    # the turn index of each `pause` (-1: before the first turn)
    previous_actions: list[list[str]] = field(default_factory=list)   # per pause: what the turn before it said
    csat: str | None = None            # up, down (the latest rating in the chat)

    @property
    def handed_off(self) -> bool:
        return bool(self.pauses)


def read_chats(store: ConversationStore, since: float | None = None, until: float | None = None) -> list[Chat]:
    """Every chat in the store that started in [since, until), oldest first."""
    return [c for c in _chats(_rows(store)) if (since is None or c.started >= since)
            and (until is None or c.started < until)]


def _rows(store: ConversationStore) -> Iterator[tuple[str, dict[str, Any]]]:
    """(conversation id, event) for the events the analytics reads, a conversation's events together in order."""
    query = (select(events.c.conversation_id, events.c.data).where(events.c.type.in_(READ))
             .order_by(events.c.conversation_id, events.c.id))
    with store._reachable(), store.engine.connect() as connection:
        yield from connection.execution_options(yield_per=BATCH).execute(query)


def chats_from_events(conversation_id: str, conversation_events: Iterable[Mapping[str, Any]]) -> list[Chat]:
    """The chats of one conversation's events (oldest first)."""
    return list(_chats((conversation_id, e) for e in conversation_events))


def _chats(rows: Iterable[tuple[str, Mapping[str, Any]]]) -> Iterator[Chat]:
    current_id: str | None = None
    folder: _Folder | None = None
    for conversation_id, event in rows:
        if conversation_id != current_id:
            if folder is not None:
                yield from folder.done()
            current_id, folder = conversation_id, _Folder(conversation_id)
        assert folder is not None
        folder.add(event)
    if folder is not None:
        yield from folder.done()


class _Folder:
    """Folds one conversation's events, in order, into its chats."""

    def __init__(self, conversation_id: str):
        self.conversation_id = conversation_id
        self.chats: list[Chat] = []
        self.chat: Chat | None = None
        self.paused = False
        self.awaiting_answer: Turn | None = None   # `action_answer` ran: its bot event says what it cited

    def add(self, event: Mapping[str, Any]) -> None:
        kind = event.get("event")
        if kind == "session_started":
            self.chat = Chat(self.conversation_id, len(self.chats), float(event.get("timestamp") or 0.0))
            self.chats.append(self.chat)
            return
        chat = self.chat
        if chat is None:   # behaviour or consent before the conversation's first session
            return
        turn = chat.turns[-1] if chat.turns else None
        if kind == "user":
            self.awaiting_answer = None
            parse = event.get("parse_data") or {}
            if parse.get("source") == COMMAND:
                return
            intent = parse.get("intent") or {}
            sentiment = parse.get("sentiment") or {}
            chat.turns.append(Turn(
                text=str(event.get("text") or ""), timestamp=float(event.get("timestamp") or chat.started),
                intent=intent.get("name"), confidence=float(intent.get("confidence") or 0.0),
                source=str(parse.get("source") or "nlu"), sentiment=sentiment.get("label"),
                sentiment_score=float(sentiment.get("score") or 0.0), with_person=self.paused))
        elif kind == "action":
            name = str(event.get("name") or "")
            if turn is not None and name not in QUIET:
                turn.actions.append(name)
                if name == ANSWER_ACTION:
                    self.awaiting_answer = turn
        elif kind == "bot":
            if self.awaiting_answer is not None:
                sources = (event.get("data") or {}).get("sources") or []
                self.awaiting_answer.answer_sources = [str(s) for s in sources]
                self.awaiting_answer = None
        elif kind == "pause":
            self.paused = True
            index = len(chat.turns) - 1
            chat.pauses.append(index)
            before = chat.turns[index - 1].actions if index >= 1 else []
            chat.previous_actions.append(list(before))
            if turn is not None:
                turn.handed_off = True
        elif kind == "resume":
            self.paused = False
        elif kind == "csat" and event.get("rating") in ("up", "down"):
            chat.csat = str(event["rating"])

    def done(self) -> list[Chat]:
        return [c for c in self.chats if c.turns]
