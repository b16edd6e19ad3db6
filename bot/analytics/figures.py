"""The figures of a set of chats (`bot.analytics.chats`): every one is a count of something in the raw events.

- **conversations**: chats (sessions with at least one shopper message).
- **resolved**: chats that ended without a handoff, a fallback or negative sentiment: no person took the chat, and
  its last turn was neither a fallback nor an "I'm not sure" reply and the shopper's last message was not negative.
  `resolution_rate` = resolved / conversations.
- **handoffs**: chats a person took, by why: the shopper was upset (the bot had offered a person to an upset
  shopper, or the message that asked was negative), after fallbacks (the bot had offered a person after fallbacks
  in a row), the order system was unreachable, the shopper asked, or the chat was still with a person from an
  earlier session.
- **fallbacks**: turns the bot fell back on (`utter_fallback`), "I'm not sure" replies (a grounded answer with no
  source), and the chats with at least one of either.
- **csat**: the chats rated up and down (the latest rating of each), `score` = up / rated, `response_rate` =
  rated / conversations.
- **intents**: shopper messages by intent (the bot's reading of them; `none` without one), in all and per UTC day;
  messages to a person (the chat handed off) are not counted.
- **unanswered**: the shopper messages behind fallbacks, "I'm not sure" replies and low-confidence readings (the
  NLU's top intent was under `dialogue.ask_below`, so the bot asked "did you mean ...?" instead of answering), the
  ones `bot.analytics.clusters` groups.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from bot.analytics.chats import Chat, Turn

UPSET, AFTER_FALLBACKS, SYSTEM_DOWN, ASKED, CONTINUED = ("upset shopper", "after fallbacks",
                                                         "order system unreachable", "asked for a person",
                                                         "still with a person from an earlier session")
HANDOFF_REASONS = (UPSET, AFTER_FALLBACKS, SYSTEM_DOWN, ASKED, CONTINUED)
OFFER_UPSET, OFFER_FALLBACKS = "utter_sorry_upset", "utter_offer_handoff"
SYSTEM_DOWN_ACTIONS = frozenset({"utter_actions_down", "utter_outcome_unknown"})
NO_INTENT = "none"


@dataclass(frozen=True)
class Unanswered:
    """A shopper message the bot could not answer well, and why (`fallback`, `dont_know`, `low_confidence`)."""

    text: str
    why: str
    timestamp: float
    intent: str | None
    confidence: float


def day(timestamp: float) -> str:
    """The UTC date of a timestamp, `YYYY-MM-DD`."""
    return datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%d")


def handoff_reason(chat: Chat, pause: int, previous: Sequence[str]) -> str:
    """Why the chat was handed off at its turn `pause` (-1: paused before its first turn)."""
    if pause < 0:
        return CONTINUED
    if OFFER_UPSET in previous or chat.turns[pause].negative:
        return UPSET
    if OFFER_FALLBACKS in previous:
        return AFTER_FALLBACKS
    if SYSTEM_DOWN_ACTIONS & set(previous):
        return SYSTEM_DOWN
    return ASKED


def unanswered_why(turn: Turn) -> str | None:
    """`fallback`, `dont_know` or `low_confidence` for a turn the bot could not answer well, else None."""
    if turn.with_person:
        return None
    if turn.fallback:
        return "fallback"
    if turn.dont_know:
        return "dont_know"
    if turn.clarify:
        return "low_confidence"
    return None


def resolved(chat: Chat) -> bool:
    """No person took the chat, and it did not end on a fallback, an "I'm not sure" or a negative message."""
    if chat.handed_off:
        return False
    last = chat.turns[-1]
    return not (last.fallback or last.dont_know or last.negative)


def figures(chats: Sequence[Chat]) -> dict[str, Any]:
    """The figures of these chats (see the module's docstring), as plain JSON-able values."""
    conversations = len(chats)
    solved = sum(resolved(c) for c in chats)
    reasons: Counter[str] = Counter()
    for chat in chats:
        for pause, previous in zip(chat.pauses, chat.previous_actions, strict=True):
            reasons[handoff_reason(chat, pause, previous)] += 1
    turns = [t for c in chats for t in c.turns]
    fallback_turns = sum(t.fallback for t in turns)
    dont_know_turns = sum(t.dont_know for t in turns)
    ups = sum(c.csat == "up" for c in chats)
    downs = sum(c.csat == "down" for c in chats)
    intents: Counter[str] = Counter()
    by_day: dict[str, Counter[str]] = {}
    for turn in turns:
        if turn.with_person:
            continue
        name = turn.intent or NO_INTENT
        intents[name] += 1
        by_day.setdefault(day(turn.timestamp), Counter())[name] += 1
    missed = unanswered(chats)
    return {
        "conversations": conversations,
        "messages": len(turns),
        "resolved": solved,
        "resolution_rate": _rate(solved, conversations),
        "handoffs": {"conversations": sum(c.handed_off for c in chats), "total": sum(reasons.values()),
                     "by_reason": {r: reasons[r] for r in HANDOFF_REASONS if reasons[r]}},
        "fallbacks": {"turns": fallback_turns, "dont_know_turns": dont_know_turns,
                      "conversations": sum(any(t.fallback or t.dont_know for t in c.turns) for c in chats)},
        "negative_messages": sum(t.negative for t in turns),
        "csat": {"up": ups, "down": downs, "rated": ups + downs, "score": _rate(ups, ups + downs),
                 "response_rate": _rate(ups + downs, conversations)},
        "intents": dict(intents.most_common()),
        "intents_by_day": {d: dict(by_day[d].most_common()) for d in sorted(by_day)},
        "unanswered": {"total": len(missed), "by_why": dict(Counter(u.why for u in missed).most_common())},
        "first_chat": day(min(c.started for c in chats)) if chats else None,
        "last_chat": day(max(c.started for c in chats)) if chats else None,
    }


def unanswered(chats: Sequence[Chat]) -> list[Unanswered]:
    """The shopper messages the bot could not answer well, oldest chat first."""
    return [Unanswered(t.text, why, t.timestamp, t.intent, round(t.confidence, 4))
            for c in chats for t in c.turns if (why := unanswered_why(t)) is not None]


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None
