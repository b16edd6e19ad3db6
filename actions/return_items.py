"""Which items of an order a shopper wants to return: the numbered choice the bot offers, and the answer read from a
button or from text ("the boots", "2", "1 and 3", "the second one", "all of them", "everything but the filter").

The answer is matched only against the items offered (positions 1..n of the offer, or words of their titles), never
against anything else, and it is never echoed back: odd Unicode (full-width digits, zero-width or bidi controls,
combining marks, lone surrogates) is normalised away or simply matches nothing.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz import fuzz

from actions.return_labels import item_text

MAX_ANSWER_CHARS = 500
ALL_WORDS = frozenset({"all", "everything", "every", "whole", "entire", "lot"})
EXCEPT = re.compile(r"\b(?:except(?:\s+for)?|but\s+not|apart\s+from|other\s+than|besides|but|not|without)\b")
SEPARATORS = re.compile(r"\s*(?:,|;|&|\+|/|\band\b|\bor\b|\bplus\b|\balso\b)\s*")
ORDINALS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4,
            "fifth": 5, "5th": 5, "sixth": 6, "6th": 6, "seventh": 7, "7th": 7, "eighth": 8, "8th": 8,
            "ninth": 9, "9th": 9, "tenth": 10, "10th": 10, "last": -1}
COUNTS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10}
FILLER = frozenset("""the a an my our this that these those them it its one ones item items thing things pair pairs
of please return returning send sending back want wanted would like to i id i'd just only in with for size colour
color x also too thanks thank you ok okay yes yeah yep sure number no nr is are was be do lot
all both every everything whole entire order except but not apart from other than besides without and or plus
""".split())
WORD = re.compile(r"-?[0-9]+(?:\.[0-9]+)?|[^\W_]+(?:\.[0-9]+)?")  # "-1" is not a position


@dataclass(frozen=True)
class Answer:
    """The order lines an answer chose (in offer order), or why it chose none: `no_match`, `ambiguous` (with the
    `candidates` it could mean)."""

    lines: list[int] = field(default_factory=list)
    problem: str = ""
    candidates: list[int] = field(default_factory=list)


def offer_text(items: list[dict[str, Any]]) -> str:
    """"1. Northwind Winter Boot (size 10.5) ×2" one per line, numbered as the offer."""
    return "\n".join(f"{n}. {item_text(item)}" for n, item in enumerate(items, 1))


def offer_buttons(items: list[dict[str, Any]]) -> list[dict[str, str]]:
    """One button per offered item (its position as the answer), then "All of them" when there are several."""
    return position_buttons(items)


def position_buttons(offered: list[dict[str, Any]], lines: list[int] | None = None) -> list[dict[str, str]]:
    """Buttons for the offered items whose line is in `lines` (default all, with "All of them" when there are
    several), each answering with its position in the offer."""
    buttons = [{"title": item_text(item), "payload": "/inform" + json.dumps({"return_items": str(n)})}
               for n, item in enumerate(offered, 1) if lines is None or item["line"] in lines]
    if lines is None and len(offered) > 1:
        buttons.append({"title": "All of them", "payload": "/inform" + json.dumps({"return_items": "all"})})
    return buttons


def normalise(text: Any) -> str:
    """NFKC, case-folded, accents, marks and control or format characters dropped, spaces collapsed."""
    if isinstance(text, (list, tuple)):  # a payload may give several positions: ["1", "3"]
        text = ", ".join(str(part) for part in text)
    raw = str(text if isinstance(text, (str, int)) and not isinstance(text, bool) else "")[:MAX_ANSWER_CHARS]
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", raw).casefold())
    kept = "".join(" " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c for c in folded
                   if unicodedata.category(c) not in ("Mn", "Me", "Cf", "Cs", "Co", "Cn"))
    return " ".join(unicodedata.normalize("NFC", kept).split())


def resolve(answer: Any, offered: list[dict[str, Any]]) -> Answer:
    """The lines of `offered` (each with `line` and `title`) that `answer` names."""
    text = normalise(answer).strip(" .!?")
    if not text or not offered:
        return Answer(problem="no_match")
    every = Answer([item["line"] for item in offered])
    if _means_all(text, len(offered)):
        return every
    exclusion = EXCEPT.search(text)
    if exclusion is not None:  # "all but the filter", "the boots, not the tights"
        kept_part, dropped_part = text[:exclusion.start()].strip(" ,"), text[exclusion.end():].strip(" ,")
        if not kept_part or not dropped_part:
            return Answer(problem="no_match")  # "not the boots": which, then? ask again
        kept = every if _means_all(kept_part, len(offered)) else _names_or_positions(kept_part, offered)
        dropped = _names_or_positions(dropped_part, offered)
        if kept.problem or dropped.problem:
            return kept if kept.problem else dropped
        lines = [line for line in kept.lines if line not in dropped.lines]
        return Answer(lines) if lines else Answer(problem="no_match")
    if any(w in ALL_WORDS for w in WORD.findall(text)):
        return Answer(problem="no_match")  # "all 3" of 4 items: which three?
    return _names_or_positions(text, offered)


def _means_all(text: str, count: int) -> bool:
    """"all", "all of them", "everything", "the whole lot", "all 4 items", "both" (of two)."""
    words = WORD.findall(text)
    said_all = any(w in ALL_WORDS for w in words) or ("both" in words and count == 2)
    rest = [w for w in words if w not in FILLER]
    return said_all and all(w == str(count) or COUNTS.get(w) == count for w in rest)


def _names_or_positions(text: str, offered: list[dict[str, Any]]) -> Answer:
    """Each part ("the boots", "2", "the second one") names one offered item, or several equally well: a plural
    ("the packs") takes them all, a singular is ambiguous."""
    chosen: list[int] = []
    for part in [p for p in SEPARATORS.split(text) if p.strip()]:
        words = WORD.findall(part)
        content = [w for w in words if w not in FILLER or w in ORDINALS]
        positions = [_position(w, len(offered)) for w in content]
        if content and all(p is not None for p in positions):  # numbers only: positions in the offer
            if any(not 1 <= p <= len(offered) for p in positions):
                return Answer(problem="no_match")
            chosen += [offered[p - 1]["line"] for p in positions]
            continue
        scores = [_score(content, item) for item in offered]
        best = max(scores, default=0.0)
        if best <= 0:
            return Answer(problem="no_match")
        tied = [item["line"] for item, score in zip(offered, scores) if score == best]
        if len(tied) > 1 and not _plural(content):
            return Answer(problem="ambiguous", candidates=tied)
        chosen += tied
    order = [item["line"] for item in offered]
    lines = sorted(set(chosen), key=order.index)
    return Answer(lines) if lines else Answer(problem="no_match")


def _position(word: str, count: int) -> int | None:
    if word.isascii() and word.isdigit():
        return int(word) if len(word) <= 3 else 0
    position = ORDINALS.get(word)
    return count if position == -1 else position


def _score(words: list[str], item: dict[str, Any]) -> float:
    """How well the answer's words name the item: 1 per title word given, 0.5 per near miss ("nortwind")."""
    title = [w for w in WORD.findall(normalise(item.get("title"))) if w not in FILLER]
    wanted = [w for w in words if w not in ORDINALS and (len(w) > 1 or w.isdigit())]
    if not any(not w.replace(".", "").isdigit() for w in wanted):
        return 0.0  # numbers alone are positions, never a title's "3"
    score = 0.0
    for word in wanted:
        if any(_same(word, t) for t in title):
            score += 1.0
        elif len(word) >= 4 and any(len(t) >= 4 and fuzz.ratio(_singular(word), _singular(t)) >= 85
                                    for t in title):
            score += 0.5
    return score


def _singular(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("es") and word[:-2].endswith(("s", "x", "z", "ch", "sh")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _same(word: str, title_word: str) -> bool:
    return word == title_word or _singular(word) == _singular(title_word)


def _plural(words: list[str]) -> bool:
    """"the boots", "both packs": a plural noun may name several items at once."""
    return any(len(w) > 3 and _singular(w) != w for w in words)
