"""The grounding guard: a generated sentence is sent only when every fact in it is in the sources.

Support is the reply's sources, plus the store's facts (`store.yml`, one line per fact, see `store_fact_lines`) that
share two words with the sentence. The shopper's words are never support: the question and earlier turns (`relevant`)
only count towards the low-overlap rule, so a shopper's "$30" or "say it is a lifetime warranty" cannot make a
sentence true, and a long sentence made mostly of them (an echo of the question) is dropped too.

Facts are numbers (prices, percentages, durations, dates, quantities, order ids), emails, URLs, codes (promo codes
and tracking numbers: `WELCOME10`, `SAVE20`, all-caps words), month and weekday names, relative dates (`today`,
`tomorrow`, `next week`, ...), claim words that change a policy (`CLAIMS`: lifetime, free, unlimited, forever,
guaranteed, no questions asked, price match, money back, never expire), product and brand names, and capitalised
names, the first word of a sentence included unless it is an ordinary word (`ORDINARY`, or a word the sources or the
store's texts, `vocabulary`, write in lower case). A sentence with a fact the support does not hold is dropped; so
is a long sentence whose words mostly appear nowhere in the sources or the question.

>>> guard = GroundingGuard(["Returns are free within 30 days."], names={"Tern Road Runner 3"})
>>> guard.check("You have 30 days to return it.").supported
True
>>> guard.check("You have 60 days to return the Tern Road Runner 3.").unsupported
['tern road runner 3', '60']
>>> GroundingGuard(["Returns are free within 30 days."], relevant=["is it a lifetime warranty?"]).check(
...     "Amazon gives a lifetime warranty.").unsupported
['lifetime', 'amazon']
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from retrieval.text import keyword_tokens as tokens

NUMBER_WORDS = {"zero": 0, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
                "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
                "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
                "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100}
CALENDAR = ("january february march april may june july august september october november december "
            "monday tuesday wednesday thursday friday saturday sunday").split()
RELATIVE_DATE = re.compile(r"\b(?:today|tonight|tomorrow|yesterday|(?:this|next|last)\s+(?:week|weekend|month|year|"
                           r"morning|afternoon|evening)|(?:within|in)\s+(?:the|an|one)\s+hour)\b", re.IGNORECASE)
# Claim words that flip a policy: stated only when a source states them too (label: pattern, matched in lower case).
CLAIMS = {"lifetime": r"\blifetime\b", "free": r"(?<!feel )\bfree\b(?! to\b)", "unlimited": r"\bunlimited\b",
          "forever": r"\bforever\b", "guaranteed": r"\bguarantee[ds]?\b",
          "no questions asked": r"\bno[\s-]+questions?[\s-]+asked\b",
          "price match": r"\bprice[\s-]*match(?:es|ed|ing)?\b", "money back": r"\bmoney[\s-]*back\b",
          "never expire": r"\bnever\s+expires?\b"}
# Words that may open a sentence capitalised without being a name (besides any word the sources write in lower case).
ORDINARY = frozenset("""
a about absolutely according actually after again all allow also although always an and another any anyone
anything are as ask at be because before being both but by call can certainly check choose click contact could
currently dear did do does each either else email enter even every everything expect feel find first for from get
give glad go good great happy has have hello here hey hi how however i if in is it its just keep kindly let make
many may maybe might more most much must my no none not note now of ok okay on once only or orders other our
perhaps pick place please plus reach refunds reply returns see select send shipping she should simply since so some
sorry start still such sure tell thank thanks that the their then there these they this those though to try
unfortunately unless until use usually visit wait we well what whatever when where whether which while who why will
with within would write yes yet you your
""".split())
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
URL = re.compile(r"(?:https?://|www\.)[^\s<>()\"']+|\b[\w-]+(?:\.[\w-]+)*\.(?:com|org|net|io|co|shop|store)(?:/[^\s<>()\"']*)?\b",
                 re.IGNORECASE)
NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")
CAPITALISED = re.compile(r"\b[A-Z][a-zA-Z]+(?:[ \t]+[A-Z][a-zA-Z]+)*")  # a name does not run across lines
SENTENCE_START = re.compile(r"(?:^|[.!?][\"')\]]*\s)[\s\"'(\[]*$")
CONTRACTION = re.compile(r"[A-Za-z]+['’](?:t|re|ll|ve|m|d)\b")
CODE = re.compile(r"(?<!\d[.,])\b(?:(?=[A-Za-z0-9]*[A-Za-z])(?=[A-Za-z0-9]*\d)[A-Za-z0-9]{2,}|[A-Z]{3,})\b")
NUMBER_WITH_UNIT = re.compile(r"\d+[a-zA-Z]{1,3}")  # 10am, 2nd, 500ml, 5L: a number, checked as one
SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9$])")
REMOVED = " \x1f "  # stands in for a fact already checked, so the next word does not look like a sentence start
FACT_MIN_SHARED = 2  # words a sentence shares with a store fact line for that line to be its support
MIN_WORDS_FOR_OVERLAP = 5
MIN_OVERLAP = 0.4
MIN_SOURCE_SHARE = 0.25  # a long sentence that is mostly the shopper's own words echoes them: not an answer


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


def codes_in(text: str) -> list[str]:
    """Promo codes, tracking numbers and the like: tokens mixing letters and digits (`SAVE20`, `1Z999AA1`), and
    all-caps words of three letters or more (`FREESHIP`); `10am` or `2nd` are numbers with a unit, not codes."""
    return [code for code in CODE.findall(text) if not NUMBER_WITH_UNIT.fullmatch(code)]


def _word_in(phrase: str, text: str) -> bool:
    """Whether `phrase` occurs in `text` as whole words (both lower case)."""
    return re.search(r"(?<!\w)" + r"\s+".join(map(re.escape, phrase.split())) + r"(?!\w)", text) is not None


def lowercase_words(texts: Iterable[str]) -> frozenset[str]:
    """The words `texts` write in lower case: a store's vocabulary of ordinary words ("Expect", opening a sentence,
    is no name when the store writes "expect"; "Amazon" is one when it never writes "amazon")."""
    return frozenset(w for text in texts for w in re.findall(r"\b[a-z]+\b", text))


def store_fact_lines(facts: Mapping[str, Any], skip: Iterable[str] = ("sources",)) -> list[str]:
    """A store's facts (`store.yml`) as one line each, named by their keys, for the guard to check against:
    `{"returns": {"window_days": 30}}` -> `["returns window days: 30"]`. `sources` (where the files are) is left out.

    >>> store_fact_lines({"name": "Pinecrest", "shipping": {"methods": [{"name": "Standard", "price": 5.95}]}})
    ['name: Pinecrest', 'shipping methods: name Standard; price 5.95']
    """
    lines: list[str] = []

    def scalar(value: Any) -> str:
        return ("yes" if value else "no") if isinstance(value, bool) else str(value)

    def walk(path: list[str], value: Any) -> None:
        label = " ".join(p.replace("_", " ") for p in path)
        if isinstance(value, Mapping):
            for key, inner in value.items():
                walk(path + [str(key)], inner)
        elif isinstance(value, list):
            plain = [scalar(v) for v in value if v is not None and not isinstance(v, (Mapping, list))]
            if plain:
                lines.append(f"{label}: {', '.join(plain)}")
            for item in value:
                if isinstance(item, Mapping):
                    lines.append(f"{label}: " + "; ".join(f"{str(k).replace('_', ' ')} {scalar(v)}"
                                                           for k, v in item.items() if v is not None))
        elif value is not None and str(value).strip():
            lines.append(f"{label}: {scalar(value)}")

    for key, value in facts.items():
        if key not in set(skip):
            walk([str(key)], value)
    return lines


@dataclass
class Verdict:
    """Whether a sentence may be sent, and the facts in it the sources do not hold."""

    sentence: str
    unsupported: list[str] = field(default_factory=list)
    low_overlap: bool = False
    echo: bool = False  # mostly the shopper's own words, hardly any of the sources'

    @property
    def supported(self) -> bool:
        return not self.unsupported and not self.low_overlap and not self.echo


@dataclass(frozen=True)
class Support:
    """What a set of texts can vouch for: their numbers, emails, URLs, codes and words."""

    text: str
    lowered: str
    numbers: frozenset[str]
    emails: frozenset[str]
    urls: frozenset[str]
    codes: frozenset[str]
    lower_words: frozenset[str]  # words the texts write in lower case: such a word opening a sentence is no name
    words: frozenset[str]  # keyword tokens, for the overlap rule

    @classmethod
    def of(cls, texts: Iterable[str]) -> Support:
        text = "\n".join(texts)
        return cls(text, text.lower(), frozenset(numbers_in(text)), frozenset(e.lower() for e in EMAIL.findall(text)),
                   frozenset(u.lower().rstrip(".,") for u in URL.findall(text)),
                   frozenset(c.upper() for c in codes_in(text)), frozenset(re.findall(r"\b[a-z]+\b", text)),
                   frozenset(tokens(text)))

    def __add__(self, other: Support) -> Support:
        return Support(self.text + "\n" + other.text, self.lowered + "\n" + other.lowered,
                       self.numbers | other.numbers, self.emails | other.emails, self.urls | other.urls,
                       self.codes | other.codes, self.lower_words | other.lower_words, self.words | other.words)


@lru_cache(maxsize=8)
def _names_pattern(names: tuple[str, ...]) -> re.Pattern[str] | None:
    """One pattern for all the names, longest first, so "Tern Road Runner 3" wins over "Road Runner 3" (cached:
    a responder passes the same catalog names for every reply)."""
    unique = sorted({n.lower() for n in names if n}, key=len, reverse=True)
    return re.compile(r"\b(?:" + "|".join(map(re.escape, unique)) + r")\b", re.IGNORECASE) if unique else None


@lru_cache(maxsize=8)
def _fact_index(facts: tuple[str, ...]) -> list[tuple[frozenset[str], Support]]:
    """Each fact line's words (numbers left out), to find the lines a sentence is about, and what the line
    supports (cached per store)."""
    return [(frozenset(t for t in tokens(line) if not t[0].isdigit()), Support.of([line])) for line in facts]


class GroundingGuard:
    """Checks sentences against source texts and the store's facts.

    `names` are catalog titles and brands (names the bot could invent); `facts` are the store's fact lines
    (`store_fact_lines`), each support for a sentence that shares two words with it; `relevant` is what the shopper
    said (question and earlier turns): it makes a sentence relevant, never true; `allowed` are names always
    allowed (the store's own); `vocabulary` are ordinary words (`lowercase_words` of the store's texts), which
    are no names when they open a sentence.
    """

    def __init__(self, sources: Iterable[str], names: Iterable[str] = (), facts: Iterable[str] = (),
                 relevant: Iterable[str] = (), allowed: Iterable[str] = (), vocabulary: frozenset[str] = frozenset()):
        self.support = Support.of(sources)
        self.facts = _fact_index(facts if isinstance(facts, tuple) else tuple(facts))
        self.names = _names_pattern(names if isinstance(names, tuple) else tuple(names))
        self.allowed = {a.lower() for a in allowed}
        self.relevant_words = frozenset(tokens("\n".join(relevant)))
        self.vocabulary = vocabulary
        self._merged: dict[tuple[int, ...], Support] = {}

    def support_for(self, sentence: str) -> Support:
        """The sources plus the store's fact lines that share two words with `sentence` (one is too loose: "days"
        would make the 10 of "5-10 business days" support any sentence with a 10 and a day in it)."""
        words = set(tokens(sentence))
        picked = tuple(i for i, (topic, _) in enumerate(self.facts)
                       if len(topic & words) >= min(FACT_MIN_SHARED, len(topic)))
        if not picked:
            return self.support
        if picked not in self._merged:
            merged = self.support
            for i in picked:
                merged = merged + self.facts[i][1]
            self._merged[picked] = merged
        return self._merged[picked]

    def check(self, sentence: str) -> Verdict:
        """Which facts in `sentence` its support does not hold (and whether its words mostly are relevant)."""
        verdict = Verdict(sentence)
        support = self.support_for(sentence)

        def unsupported(fact: str) -> None:
            if fact not in verdict.unsupported:
                verdict.unsupported.append(fact)

        def held(phrase: str) -> bool:
            return _word_in(phrase, support.lowered) or phrase in self.allowed

        lowered = sentence.lower()
        rest = EMAIL.sub(REMOVED, sentence)
        for email in EMAIL.findall(sentence):
            if email.lower() not in support.emails:
                unsupported(email)
        for url in URL.findall(rest):
            if url.lower().rstrip(".,") not in support.urls and url.lower().rstrip(".,") not in support.lowered:
                unsupported(url)
        rest = URL.sub(REMOVED, rest)
        if self.names is not None:  # catalog names first: "Road Runner 3" is a name, not the number 3
            matches = list(self.names.finditer(rest))
            for match in matches:
                if not held(match.group(0).lower()):
                    unsupported(match.group(0).lower())
            for match in reversed(matches):
                rest = rest[:match.start()] + REMOVED + rest[match.end():]
        for code in codes_in(rest):  # before numbers: "SAVE20" is a code, not the number 20
            if code.upper() not in support.codes and code.lower() not in self.allowed:
                unsupported(code)
            rest = re.sub(rf"\b{re.escape(code)}\b", REMOVED, rest)
        for number in sorted(numbers_in(rest) - support.numbers, key=lambda n: rest.find(n)):
            unsupported(number)
        for word in CALENDAR:
            if word != "may" and re.search(rf"\b{word}\b", lowered) and word not in support.lowered:
                unsupported(word)
        for match in RELATIVE_DATE.finditer(lowered):
            phrase = re.sub(r"\s+", " ", match.group(0))
            if not _word_in(phrase, support.lowered):
                unsupported(phrase)
        for label, pattern in CLAIMS.items():
            if re.search(pattern, lowered) and not re.search(pattern, support.lowered):
                unsupported(label)
        for match in CAPITALISED.finditer(rest):
            phrase = match.group(0)
            opens = SENTENCE_START.search(rest[:match.start()]) is not None
            if opens and _ordinary(rest[match.start():], support, self.vocabulary):
                phrase = phrase.split(None, 1)[1] if " " in phrase.strip() else ""  # "The", "You": no name
            phrase = re.sub(r"\s+", " ", phrase.lower()).strip()
            if phrase and not held(phrase):
                unsupported(phrase)
        words = tokens(sentence)
        if len(words) >= MIN_WORDS_FOR_OVERLAP:
            known = support.words | self.relevant_words
            verdict.low_overlap = sum(w in known for w in words) / len(words) < MIN_OVERLAP
            verdict.echo = (not verdict.low_overlap
                            and sum(w in support.words for w in words) / len(words) < MIN_SOURCE_SHARE)
        return verdict


def _ordinary(text: str, support: Support, vocabulary: frozenset[str]) -> bool:
    """Whether the capitalised word `text` starts with is an ordinary word, not a name: a contraction ("Don't"),
    a word of `ORDINARY`, or one the sources or the store's texts write in lower case."""
    if CONTRACTION.match(text):
        return True
    word = re.match(r"[A-Za-z]+", text)
    lowered = word.group(0).lower() if word is not None else ""
    return bool(lowered) and (lowered in ORDINARY or lowered in support.lower_words or lowered in vocabulary)
