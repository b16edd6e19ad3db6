"""The aspect tagger and claim detectors: a keyword and pattern lexicon over one review sentence.

Aspects: fit/size, comfort, durability, waterproofing, value, shipping. Claims are the findings a product page can
be checked against: a leak report ("water got in", "soaked through"; "no leaks", "never leaked" are not), "runs
small", "runs large", "true to size". `is_instruction` spots a sentence written to steer an assistant ("ignore
previous instructions"), which is never quoted nor given to the LM.

>>> tag_aspects("Runs small, order a half size up.")
('fit',)
>>> sorted(claims_in("No leaks after a month of wet hikes."))
[]
"""

from __future__ import annotations

import re

ASPECTS = ("fit", "comfort", "durability", "waterproofing", "value", "shipping")
LEXICON_VERSION = "1"    # part of the analysis fingerprint: a changed lexicon re-scores the reviews

_PATTERNS = {
    "fit": r"\b(?:fits?|fitting|fitted|sizing|sized?|sizes|true to size|runs? (?:small|large|big|narrow|wide)|"
           r"too (?:tight|loose|big|small|snug|narrow|wide)|snug|roomy|baggy|half size|size (?:up|down)|cut)\b",
    "comfort": r"\b(?:comfort\w*|comfy|uncomfortable|cushion\w*|blisters?|rubs?|pinch\w*|padding|soft|"
               r"barely notice|forget I have it)\b",
    "durability": r"\b(?:durab\w*|holding up|holds? up|held up|well made|falling apart|fell apart|came apart|"
                  r"wore (?:through|out)|worn out|broke\w*|stitching|seams came|looks new|solid|sturdy|flimsy)\b",
    "waterproofing": r"\b(?:waterproof\w*|leak\w*|dry|soaked|wet|water (?:got|came|gets|comes) in|rain|downpour|"
                     r"puddles?)\b",
    "value": r"\b(?:value|price[ds]?|pricey|worth|penny|deal|overpriced|expensive|cheap\w*|money|bargain)\b",
    "shipping": r"\b(?:ship(?:ping|ped)?|deliver\w*|arrived|arrival|packed|packaging|box|courier)\b",
}
_ASPECT_RE = {aspect: re.compile(pattern, re.IGNORECASE) for aspect, pattern in _PATTERNS.items()}
_NEGATED_LEAK = re.compile(r"\b(?:no|never|not|didn't|did not|doesn't|does not|zero|without)\b[^.,;!?]{0,20}"
                           r"\b(?:leak\w*|soaked|wet)\b", re.IGNORECASE)
_LEAK = re.compile(r"\b(?:leak(?:s|ed|ing|y)?|soaked through|water (?:got|came|gets|comes|seeps?) in|not waterproof|"
                   r"(?:feet|socks|i) (?:were|was|got) (?:wet|soaked))\b", re.IGNORECASE)
_RUNS_SMALL = re.compile(r"\b(?:runs? (?:[a-z]+ ){0,4}?small|size up|too (?:small|tight|snug))\b", re.IGNORECASE)
_RUNS_LARGE = re.compile(r"\b(?:runs? (?:[a-z]+ ){0,4}?(?:large|big)|size down|too (?:big|large|loose))\b",
                         re.IGNORECASE)
_TRUE_TO_SIZE = re.compile(r"\b(?:true to size|fits? (?:perfectly|as expected)|my usual size (?:and it )?fits|"
                           r"sizing is spot on)\b", re.IGNORECASE)
_INSTRUCTION = re.compile(r"\b(?:ignore (?:all |any |the )?(?:previous|prior|above|earlier|your) (?:instructions|"
                          r"rules|prompts?)|disregard (?:the |all |your )?(?:instructions|rules)|you are now|"
                          r"(?:system|assistant) ?:|new instructions|as an (?:ai|assistant|language model)|"
                          r"(?:tell|inform) (?:the )?(?:customer|shopper|user)s?)\b", re.IGNORECASE)


def tag_aspects(sentence: str) -> tuple[str, ...]:
    """The aspects a sentence talks about, in `ASPECTS` order."""
    return tuple(aspect for aspect in ASPECTS if _ASPECT_RE[aspect].search(sentence))


def claims_in(sentence: str) -> frozenset[str]:
    """The checkable findings in a sentence: `leak`, `runs_small`, `runs_large`, `true_to_size`."""
    found = set()
    if _LEAK.search(sentence) and not _NEGATED_LEAK.search(sentence):
        found.add("leak")
    if _RUNS_SMALL.search(sentence):
        found.add("runs_small")
    elif _RUNS_LARGE.search(sentence):
        found.add("runs_large")
    elif _TRUE_TO_SIZE.search(sentence):
        found.add("true_to_size")
    return frozenset(found)


def is_instruction(sentence: str) -> bool:
    """Whether a sentence reads as an instruction to an assistant (prompt injection), not a shopper's opinion."""
    return _INSTRUCTION.search(sentence) is not None
