"""Tokenisation shared by the keyword index and query parsing: lowercase words, stopwords out, Snowball stems."""

from __future__ import annotations

import re
from functools import lru_cache

import Stemmer

_WORD = re.compile(r"\d+(?:[.,:]\d+)*|[a-z0-9]+(?:'[a-z]+)?")
STOPWORDS = frozenset("""
a an and are as at be been being but by can could did do does doing for from had has have having he her hers him
his how i if in into is it its itself just me my myself of on once or our ours she should so than that the their
them then there these they this those to too was we were what when where which while who whom why will with would
you your yours yourself hi hello hey please thanks thank pls plz u ur im i'm id i'd ive i've
""".split())


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def words(text: str) -> list[str]:
    """Lowercase word tokens; apostrophes stay inside words (`"don't"`), numbers stay whole (`"4.95"`)."""
    return _WORD.findall(text.lower().replace("’", "'"))


def keyword_tokens(text: str) -> list[str]:
    """Tokens for BM25: stopwords removed, possessives dropped, Snowball-stemmed."""
    kept = [w.split("'")[0] for w in words(text) if w not in STOPWORDS]
    return _stemmer().stemWords([w for w in kept if w])
