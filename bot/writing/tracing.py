"""Trace a written sentence to the fact lines behind it; a sentence that something in it cannot be traced to is
dropped, with the reasons.

A sentence passes when:

- the grounding guard (`bot.responder.grounding.GroundingGuard`) finds every number, name, code, date and claim
  word ("lifetime", "free", "guaranteed", ...) in the facts, and most of its words in them;
- each number with a unit comes from a fact with that unit: "$220" is not supported by a weight of 220 g, nor
  "5-year warranty" by a 5-star review (`UNITS`);
- it claims nothing the product is known not to be ("waterproof" when the catalog says `waterproof: false`, unless
  the sentence says "not");
- it names no colour, gender or material the store uses for other products but not for this one (`contrast`);
- free shipping is stated with the store's threshold ("orders of $75.00 or more"), never as "free shipping";
- every content word is in its facts, or one of the few words copy needs to say them (`STYLE`: "weighs",
  "comes", "holds", ...), so "protein-lumber ear pads" is not passed for "protein-leather ear pads";
- it does not repeat itself or copy a fact's label as prose ("it is battery up to 38 hours");
- a quotation is quoted word for word from a fact (a review);
- and it draws on at least one fact: its sources are the facts that hold its numbers, names, attribute words, or
  two of its content words.

>>> tracer = Tracer(facts, names=catalog_names)
>>> tracer.trace("It comes with a lifetime warranty.").unsupported
['lifetime']
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from bot.responder.grounding import GroundingGuard, numbers_in
from bot.writing.facts import Fact
from retrieval.text import STOPWORDS, keyword_tokens, words

_N = r"(\d[\d,]*(?:\.\d+)?)"
UNITS: dict[str, re.Pattern[str]] = {
    "price": re.compile(r"\$\s?" + _N),
    "grams": re.compile(_N + r"\s?(?:g|grams?)\b", re.IGNORECASE),
    "ounces": re.compile(_N + r"\s?(?:oz|ounces?)\b", re.IGNORECASE),
    "litres": re.compile(_N + r"\s?(?:l|liters?|litres?)\b", re.IGNORECASE),
    "hours": re.compile(_N + r"[\s-]?(?:hours?|hrs?)\b", re.IGNORECASE),
    "years": re.compile(_N + r"[\s-](?:years?)\b", re.IGNORECASE),
    "days": re.compile(_N + r"[\s-](?:days?)\b", re.IGNORECASE),
    "rating": re.compile(_N + r"\s?(?:/\s?5\b|out of 5\b)", re.IGNORECASE),
    "stars": re.compile(_N + r"[\s-]?stars?\b", re.IGNORECASE),
    "reviews": re.compile(_N + r"\s+(?:\w+\s)?(?:reviews?|ratings?|reviewers?)\b", re.IGNORECASE),
    "percent": re.compile(_N + r"\s?(?:%|percent\b)", re.IGNORECASE),
    "scale": re.compile(r"\bout of " + _N, re.IGNORECASE),
}
NEGATION = re.compile(r"\b(?:not|no|never|without|isn't|isnt|aren't|non)\b|n't\b", re.IGNORECASE)
QUOTED = re.compile(r"[\"“]([^\"”]{3,})[\"”]")
FREE = re.compile(r"\bfree\b", re.IGNORECASE)
SHIPPING = re.compile(r"\bship", re.IGNORECASE)
EXCHANGE = re.compile(r"\bexchange", re.IGNORECASE)
# Words copy may use that state no fact (verbs and connectives of the templates and the worked examples); any
# other content word of a sentence must be in its facts.
STYLE = frozenset(keyword_tokens("""pair made make weigh weighs come comes hold holds run runs rate rated rating
across shopper shoppers customer customers reviewer reviewers review reviews say says meet choose pick offer
offers built give keep also just ship ships free order orders cover covered note please mark marked return
returned within day days size sizes colour colours color colors available option options per charge up one
choice new latest look check discover explore cost costs priced sleeps"""))
# The LM copying a fact's label into prose: "It is battery up to 38 hours".
LABEL_MISUSE = re.compile(r"\b(?:is|are|has)\s+(?:a\s+)?(?:battery|capacity|weight|material|colors?|sizes?|type|brand|"
                          r"name|rating|price)\b(?!\s+(?:of|life|that|which))", re.IGNORECASE)
REPEATED = re.compile(r"\b(\w+\W+\w+\W+\w+)\b.*\b\1\b", re.IGNORECASE)
GENERIC = frozenset(keyword_tokens("it this the item product made our store one also great perfect ideal yes"))


@dataclass
class Trace:
    """A sentence, the ids of the facts it draws on, and what in it no fact holds (with why)."""

    sentence: str
    sources: list[str] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    @property
    def supported(self) -> bool:
        return not self.unsupported

    def reject(self, item: str, reason: str) -> None:
        if item not in self.unsupported:
            self.unsupported.append(item)
            self.reasons.append(reason)

    def to_dict(self) -> dict:
        return {"text": self.sentence, "sources": self.sources, "unsupported": self.unsupported,
                "reasons": self.reasons}


def _units(text: str) -> list[tuple[str, str, str]]:
    """(unit, number, raw text) for each number with a unit in `text`."""
    found = []
    for unit, pattern in UNITS.items():
        for match in pattern.finditer(text):
            found.append((unit, numbers_in(match.group(1)).pop() if numbers_in(match.group(1)) else match.group(1),
                          match.group(0)))
    return found


def _plain(word: str) -> str:
    return word.split("'")[0]


def _normal(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("’", "'").replace("“", '"').replace("”", '"')).strip().lower()


class Tracer:
    """Traces sentences about one product (or one campaign) to its facts.

    `names` are the catalog's titles and brands (names a sentence could invent); `contrast` the words of the
    store's attribute values (colours, genders, materials) across the catalog: one that none of these facts holds
    is an attribute of another product; `allowed` names always allowed (the store's own name); `vocabulary` the
    store's ordinary lower-case words (never taken for invented names)."""

    def __init__(self, facts: Iterable[Fact], names: Iterable[str] = (), contrast: Iterable[str] = (),
                 allowed: Iterable[str] = (), vocabulary: frozenset[str] = frozenset()):
        self.facts = list(facts)
        texts = [f.text for f in self.facts]
        self.guard = GroundingGuard(texts, tuple(names), allowed=allowed, vocabulary=vocabulary)
        self.names = self.guard.names
        own = {_plain(w) for text in texts for w in words(text)}
        self.contrast = frozenset(_plain(w) for w in contrast) - own
        self.negated = tuple(word for f in self.facts for word in f.negated)
        self._units = [(f, _units(f.text)) for f in self.facts]
        self._numbers = [numbers_in(f.text) for f in self.facts]
        self._tokens = [set(keyword_tokens(f.text)) - GENERIC for f in self.facts]
        self._normal = [_normal(f.text) for f in self.facts]
        threshold = next((f for f in self.facts if f.id == "store:shipping.free_shipping_threshold"), None)
        self.free_shipping = numbers_in(threshold.text) if threshold is not None else set()
        self._all_tokens = set().union(*self._tokens) | {t for text in texts for t in keyword_tokens(text)}
        self._title_tokens = set()
        for fact in self.facts:
            if fact.id == "title" and fact.values:
                self._title_tokens = set(keyword_tokens(fact.values[0]))

    def trace(self, sentence: str) -> Trace:
        """The facts behind `sentence`, and everything in it that no fact holds."""
        trace = Trace(sentence)
        verdict = self.guard.check(sentence)
        for item in verdict.unsupported:
            trace.reject(item, f"'{item}' is in none of the facts")
        if verdict.low_overlap:
            trace.reject("(mostly unsupported words)", "most of its words are in none of the facts")
        lowered = _normal(sentence)
        for unit, number, raw in _units(sentence):
            if not any(u == unit and n == number for _, found in self._units for u, n, _ in found):
                trace.reject(raw, f"'{raw}' is no fact's {unit}")
        negated = bool(NEGATION.search(sentence))
        for word in self.negated:
            if re.search(rf"\b{re.escape(word)}\b", lowered) and not negated:
                trace.reject(word, f"the catalog says it is not {word}")
        for word in {_plain(w) for w in words(sentence)} & self.contrast:
            if word not in STOPWORDS:
                trace.reject(word, f"'{word}' describes other products, not this one")
        if FREE.search(sentence) and SHIPPING.search(sentence) and not EXCHANGE.search(sentence):
            if not numbers_in(sentence) & self.free_shipping:  # "free shipping on every order": not what it says
                trace.reject("free shipping", "free shipping is stated without the store's threshold" if
                             self.free_shipping else "the store's facts give no free-shipping rule")
        unknown = [t for t in keyword_tokens(QUOTED.sub(" ", sentence))
                   if t not in self._all_tokens and t not in STYLE and not t[0].isdigit()]
        flagged = {t for item in trace.unsupported for t in keyword_tokens(item)}
        for token in dict.fromkeys(unknown):
            if token not in flagged:
                trace.reject(token, f"'{token}' is in none of the facts")
        if LABEL_MISUSE.search(sentence):
            trace.reject("(label as prose)", "it copies a fact's label instead of saying the fact")
        unnamed = self.names.sub(" ", sentence) if self.names is not None else sentence
        if REPEATED.search(unnamed):
            trace.reject("(repeats itself)", "it repeats the same words")
        for quote in QUOTED.findall(sentence):
            if _normal(quote).strip(" .!?,") not in " ".join(self._normal):
                trace.reject(f'"{quote}"', "the quotation is not word for word in any fact")
        trace.sources = self._sources(sentence)
        if trace.supported and not trace.sources:
            trace.reject("(no source)", "it draws on none of the facts")
        return trace

    def _sources(self, sentence: str) -> list[str]:
        """Ids of the facts the sentence draws on, in fact order."""
        units = _units(sentence)
        plain = sentence
        for _, _, raw in units:
            plain = plain.replace(raw, " ")
        numbers = numbers_in(plain)
        unit_pairs = {(u, n) for u, n, _ in units}
        names = {m.group(0).lower() for m in self.names.finditer(sentence)} if self.names is not None else set()
        tokens = set(keyword_tokens(sentence)) - GENERIC - STYLE
        quoted = [_normal(q).strip(" .!?,") for q in QUOTED.findall(sentence)]
        picked = []
        for i, fact in enumerate(self.facts):
            text = self._normal[i]
            shared = (tokens & self._tokens[i]) - (self._title_tokens if fact.id != "title" else set())
            topic = self._tokens[i] - self._title_tokens
            fact_units = {(u, n) for u, n, _ in self._units[i][1]}
            if (numbers & self._numbers[i] and (shared or fact.kind != "description")) \
                    or unit_pairs & fact_units \
                    or any(re.search(rf"(?<!\w){re.escape(n)}(?!\w)", text) for n in names if fact.id in (
                        "title", "brand")) \
                    or any(q and q in text for q in quoted) \
                    or len(shared) >= 2 or (shared and (len(topic) <= 3 or fact.kind in ("product", "attribute"))):
                picked.append(fact.id)
        return picked


def contrast_vocabulary(products: Iterable[object]) -> frozenset[str]:
    """The words of the catalog's colours, genders and materials: attribute words a sentence may use only for a
    product whose facts hold them."""
    out: set[str] = set()
    for product in products:
        attributes = getattr(product, "attributes", {}) or {}
        for key in ("colors", "color", "gender", "material"):
            value = attributes.get(key)
            for item in value if isinstance(value, list) else [value] if value else []:
                out |= {_plain(w) for w in words(str(item)) if not w[0].isdigit()}
    return frozenset(out - STOPWORDS)
