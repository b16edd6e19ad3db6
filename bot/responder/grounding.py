"""The grounding guard: a generated sentence is sent only when every fact in it is in the sources.

Facts are numbers (prices, percentages, durations, dates, quantities, order ids), emails, URLs, month and
weekday names, product and brand names, and capitalised names. A sentence with a fact the sources do not hold
is dropped; so is a long sentence whose words mostly appear nowhere in the sources or the question.

>>> guard = GroundingGuard(["Returns are free within 30 days."], names={"Tern Road Runner 3"})
>>> guard.check("You have 30 days to return it.").supported
True
>>> guard.check("You have 60 days to return the Tern Road Runner 3.").unsupported
['tern road runner 3', '60']
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from retrieval.text import keyword_tokens as tokens

NUMBER_WORDS = {"zero": 0, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
                "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
                "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
                "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100}
CALENDAR = ("january february march april may june july august september october november december "
            "monday tuesday wednesday thursday friday saturday sunday").split()
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
URL = re.compile(r"(?:https?://|www\.)[^\s<>()\"']+|\b[\w-]+(?:\.[\w-]+)*\.(?:com|org|net|io|co|shop|store)(?:/[^\s<>()\"']*)?\b",
                 re.IGNORECASE)
NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")
CAPITALISED = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-zA-Z]+(?:\s+[A-Z][a-zA-Z]+)*")
SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9$])")
MIN_WORDS_FOR_OVERLAP = 5
MIN_OVERLAP = 0.4


def split_sentences(text: str) -> list[str]:
    """Split text into sentences (a full stop inside a price or an abbreviation does not end one)."""
    return [s.strip() for s in SENTENCE_END.split(text) if s.strip()]


def _number(raw: str) -> str:
    value = float(raw.replace(",", ""))
    return str(int(value)) if value == int(value) else f"{value:.2f}".rstrip("0").rstrip(".")


def numbers_in(text: str) -> set[str]:
    """Numbers in text, normalised (`$1,049.00` -> `1049`), number words included (`thirty` -> `30`)."""
    found = {_number(m.group(0)) for m in NUMBER.finditer(text)}
    words = set(re.findall(r"[a-z]+", text.lower()))
    found |= {str(v) for w, v in NUMBER_WORDS.items() if w in words}
    return found


@dataclass
class Verdict:
    """Whether a sentence may be sent, and the facts in it the sources do not hold."""

    sentence: str
    unsupported: list[str] = field(default_factory=list)
    low_overlap: bool = False

    @property
    def supported(self) -> bool:
        return not self.unsupported and not self.low_overlap


@lru_cache(maxsize=8)
def _longest_first(names: tuple[str, ...]) -> list[str]:
    """Lower-cased names, longest first (cached: a responder passes the same catalog names for every reply)."""
    return sorted({n.lower() for n in names if n}, key=len, reverse=True)


class GroundingGuard:
    """Checks sentences against source texts; `names` are catalog titles and brands (names the bot could invent)."""

    def __init__(self, sources: Iterable[str], names: Iterable[str] = (), context: Iterable[str] = (),
                 allowed: Iterable[str] = ()):
        self.text = "\n".join(sources)
        self.lowered = self.text.lower()
        support = self.lowered + "\n" + "\n".join(context).lower()  # the question and earlier turns may be echoed
        self.numbers = numbers_in(self.text) | numbers_in("\n".join(context))
        self.emails = {e.lower() for e in EMAIL.findall(self.text)}
        self.urls = {u.lower().rstrip(".,") for u in URL.findall(self.text)}
        self.names = _longest_first(names if isinstance(names, tuple) else tuple(names))
        self.allowed = {a.lower() for a in allowed}
        self.words = set(tokens(support))
        self.support_text = support

    def check(self, sentence: str) -> Verdict:
        """Which facts in `sentence` are not in the sources (and whether its words mostly are)."""
        verdict = Verdict(sentence)
        lowered = sentence.lower()
        rest = EMAIL.sub(" ", sentence)
        for email in EMAIL.findall(sentence):
            if email.lower() not in self.emails:
                verdict.unsupported.append(email)
        for url in URL.findall(rest):
            if url.lower().rstrip(".,") not in self.urls and url.lower().rstrip(".,") not in self.lowered:
                verdict.unsupported.append(url)
        rest = URL.sub(" ", rest)
        for name in self.names:  # catalog names first: "Road Runner 3" is a name, not the number 3
            for match in reversed(list(re.finditer(rf"\b{re.escape(name)}\b", rest, re.IGNORECASE))):
                if name not in self.support_text and name not in self.allowed and name not in verdict.unsupported:
                    verdict.unsupported.append(name)
                rest = rest[:match.start()] + " " + rest[match.end():]
        for number in sorted(numbers_in(rest) - self.numbers, key=lambda n: rest.find(n)):
            verdict.unsupported.append(number)
        for word in CALENDAR:
            if re.search(rf"\b{word}\b", lowered) and word not in self.support_text and word != "may":
                verdict.unsupported.append(word)
        for match in CAPITALISED.finditer(rest):
            phrase = match.group(0).lower()
            if phrase not in self.support_text and phrase not in self.allowed and phrase not in verdict.unsupported:
                verdict.unsupported.append(phrase)
        words = tokens(sentence)
        if len(words) >= MIN_WORDS_FOR_OVERLAP:
            verdict.low_overlap = sum(w in self.words for w in words) / len(words) < MIN_OVERLAP
        return verdict
