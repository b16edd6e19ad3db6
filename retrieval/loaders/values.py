"""Read the values real exports hold: prices with symbols, ranges and either decimal mark, ratings as sentences,
fractions or stars, and ids made from titles when the export has none.

>>> parse_price("$299.99through-$449.99")
PriceValue(low=299.99, high=449.99, currency='USD')
>>> parse_price("1.299,00 €")
PriceValue(low=1299.0, high=None, currency='EUR')
>>> parse_rating("Rated 4.5 out of 5 stars based on 4317 reviews.")
RatingValue(rating=4.5, review_count=4317)
>>> parse_rating("★★★★☆").rating
4.0
>>> slug_id("Sony WH-1000XM5 Wireless Headphones")
'sony-wh-1000xm5-wireless-headphones'
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

CURRENCY_SYMBOLS = {"$": "USD", "US$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR", "C$": "CAD",
                    "CA$": "CAD", "A$": "AUD", "AU$": "AUD", "NZ$": "NZD", "CHF": "CHF", "R$": "BRL", "kr": "SEK",
                    "zł": "PLN", "₩": "KRW", "₺": "TRY"}
_CODE = re.compile(r"\b([A-Z]{3})\b")
_AMOUNT = re.compile(r"\d{1,3}(?:[ \u00a0\u202f']\d{3})+(?:[.,]\d{1,2})?|\d[\d.,]*\d|\d")
_RANGE_WORDS = re.compile(r"\s*(?:through|thru|to|until|bis|à|a)?\s*[-–—~]?\s*(?:through|thru|to)?\s*", re.I)
_ID_LENGTH = 60
_ASCII_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class PriceValue:
    """A price as read: the low end, the high end of a range (None when it is one price), the currency if shown."""

    low: float
    high: float | None = None
    currency: str | None = None


@dataclass(frozen=True)
class RatingValue:
    """A rating on a 0-5 scale and, when the text says it, how many reviews it rests on."""

    rating: float | None
    review_count: int | None = None


def parse_amount(text: str) -> float | None:
    """One amount with either decimal mark: "1,299.00", "1.299,00", "1 299,00", "20,99", "20.99", "1,019"."""
    text = text.strip().replace("\u00a0", "").replace("\u202f", "").replace("'", "").replace(" ", "")
    if not re.fullmatch(r"\d[\d.,]*", text):
        return None
    dots, commas = text.count("."), text.count(",")
    if dots and commas:  # the later mark is the decimal one
        decimal = "." if text.rfind(".") > text.rfind(",") else ","
        thousands = "," if decimal == "." else "."
        text = text.replace(thousands, "").replace(decimal, ".")
    elif commas:  # "20,99" is a decimal comma; "1,019" and "1,299,000" are thousands
        head, _, tail = text.rpartition(",")
        text = text.replace(",", "") if commas > 1 or len(tail) == 3 else head.replace(",", "") + "." + tail
    elif dots > 1:  # "1.299.000"
        text = text.replace(".", "")
    try:
        return float(text)
    except ValueError:
        return None


def parse_price(value: Any) -> PriceValue | None:
    """A price, or None when the text holds no price. A range ("$299.99 - $449.99", "$299.99through-$449.99")
    keeps both ends; a currency symbol or ISO code is reported when shown."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return PriceValue(float(value))
    text = str(value).strip()
    if not text:
        return None
    currency = _currency(text)
    amounts = list(_AMOUNT.finditer(text))
    if not amounts or len(amounts) > 2:
        return None
    if len(amounts) == 1:
        rest = text[:amounts[0].start()] + text[amounts[0].end():]
        if not _only_currency(rest):
            return None
        low = parse_amount(amounts[0].group())
        if low is not None and "-" in text[:amounts[0].start()]:
            low = -low  # "-5", "$-5", "-$5": a negative price, which the catalog refuses by name
        return PriceValue(low, None, currency) if low is not None else None
    first, second = amounts
    between = text[first.end():second.start()]
    outside = text[:first.start()] + text[second.end():]
    gap = _strip_currency(between)
    if not _only_currency(outside) or not _RANGE_WORDS.fullmatch(gap) or not re.search(r"[-–—~]|thr|to", between,
                                                                                        re.I):
        return None
    low, high = parse_amount(first.group()), parse_amount(second.group())
    if low is None or high is None:
        return None
    low, high = min(low, high), max(low, high)
    return PriceValue(low, high if high > low else None, currency)


def _currency(text: str) -> str | None:
    for symbol in sorted(CURRENCY_SYMBOLS, key=len, reverse=True):
        if symbol in text:
            return CURRENCY_SYMBOLS[symbol]
    match = _CODE.search(text)
    return match.group(1) if match else None


def _strip_currency(text: str) -> str:
    for symbol in sorted(CURRENCY_SYMBOLS, key=len, reverse=True):
        text = text.replace(symbol, "")
    return _CODE.sub("", text)


def _only_currency(text: str) -> bool:
    return not _strip_currency(text).strip(" -–:").strip()


_STARS = re.compile(r"^[★☆✩✪⭐½\s]+$")
_SENTENCE = re.compile(r"(\d+(?:[.,]\d+)?)\s*(?:/|out\s+of|of|von|sur|su)\s*(\d+(?:[.,]\d+)?)", re.I)
_COUNT = re.compile(r"(\d[\d,. \u00a0]*)\s*(?:customer\s+|verified\s+)?(?:reviews?|ratings?|votes?|avis|bewertungen)",
                    re.I)
_PAREN_COUNT = re.compile(r"\((\d[\d,. \u00a0]*)\)")
_PLAIN = re.compile(r"(\d+(?:[.,]\d+)?)")
_ABOUT_REVIEWS = re.compile(r"\b(?:review|reviews|reviewed|rated|rating|ratings)\b", re.I)
_NO_RATING = re.compile(r"^(?:not\s+yet\s+(?:reviewed|rated)|no\s+(?:reviews?|ratings?)(?:\s+yet)?|unrated|n/?a|none|-+)"
                        r"\.?$", re.I)


def parse_rating(value: Any) -> RatingValue | None:
    """A rating on a 0-5 scale, or None when the text holds none. Reads "4.5", "4,5", "4.5/5", "9/10" (scaled),
    "4.5 out of 5 stars", "Rated 4.5 out of 5 stars based on 4317 reviews.", "4.5 (1,204)" and "★★★★☆"."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return RatingValue(float(value))
    text = str(value).strip()
    if not text:
        return None
    if _NO_RATING.match(text) or (not re.search(r"\d|[★☆⭐]", text) and _ABOUT_REVIEWS.search(text)):
        return RatingValue(None)  # "Not Yet Reviewed", "Be the first to write a review"
    if _STARS.match(text):
        full = text.count("★") + text.count("⭐") + text.count("✪")
        return RatingValue(full + (0.5 if "½" in text else 0.0))
    count = None
    counted = _COUNT.search(text) or _PAREN_COUNT.search(text)
    if counted:
        count = _count(counted.group(1))
        text = text[:counted.start()] + text[counted.end():]
    fraction = _SENTENCE.search(text)
    if fraction:
        score, scale = float(fraction.group(1).replace(",", ".")), float(fraction.group(2).replace(",", "."))
        if scale <= 0:
            return None
        return RatingValue(round(score * 5 / scale, 2) if scale != 5 else score, count)
    plain = _PLAIN.search(text)
    if not plain:
        return RatingValue(None, count) if count is not None else None
    leftover = (text[:plain.start()] + text[plain.end():]).lower()
    if re.search(r"[a-z]", re.sub(r"\b(rated|rating|stars?|average|avg|customer|based|on|out)\b", "", leftover)):
        return None
    return RatingValue(float(plain.group(1).replace(",", ".")), count)


def parse_count(value: Any) -> int | None:
    """A whole count: 4317, "-2", "12.0", "4,317", "4.317", "4317 reviews", "(4,317)"; None for "12.5"."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    text = str(value).strip()
    if re.fullmatch(r"[-+]?\d+(?:\.0+)?", text):
        return int(float(text))
    match = _COUNT.fullmatch(text) or _PAREN_COUNT.fullmatch(text)
    return _count(match.group(1) if match else text)


def _count(text: str) -> int | None:
    """Digits, or digits grouped by thousands ("4,317", "4.317", "4 317"); "12.5" is not a count."""
    text = text.strip()
    if re.fullmatch(r"\d+|\d{1,3}(?:[,. \u00a0]\d{3})+", text):
        return int(re.sub(r"\D", "", text))
    return None


def clean_text(value: Any) -> str:
    """Text without control or zero-width characters, in NFC form, with runs of whitespace made one space."""
    if value is None:
        return ""
    text = str(value)
    if text.isascii():  # the common case, without a look at each character's category
        return " ".join(_ASCII_CONTROL.sub("", text).split())
    text = unicodedata.normalize("NFC", text)
    text = "".join(" " if ch in "\t\n\r\u2028\u2029\u00a0" else ch for ch in text
                   if unicodedata.category(ch) not in ("Cc", "Cf") or ch in "\t\n\r")
    return re.sub(r"\s+", " ", text).strip()


class _TextOnly(HTMLParser):
    BLOCKS = {"p", "br", "li", "div", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "table"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in self.BLOCKS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)
        elif tag in self.BLOCKS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def strip_html(value: Any) -> str:
    """The text of an HTML fragment (scripts and styles dropped, entities decoded, whitespace collapsed)."""
    if value is None:
        return ""
    text = str(value)
    if "<" not in text and "&" not in text:
        return clean_text(text)
    parser = _TextOnly()
    parser.feed(text)
    parser.close()
    return clean_text(html.unescape("".join(parser.parts)))


def slug_id(title: str) -> str:
    """A stable id from a title: lower-case ASCII words joined by "-" (at most 60 characters); a title with no
    Latin letters or digits gets "p-" and a hash of the title."""
    text = unicodedata.normalize("NFKD", clean_text(title)).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    if len(slug) > _ID_LENGTH:
        slug = slug[:_ID_LENGTH].rsplit("-", 1)[0] or slug[:_ID_LENGTH]
    return slug or "p-" + hashlib.sha1(clean_text(title).encode()).hexdigest()[:10]


class IdMaker:
    """Ids for rows that have none, made from their titles: the same title gives the same id on every run; a
    title whose id is taken (by an id in the file or an earlier title) gets "-2", "-3", ... in file order."""

    def __init__(self, taken: set[str] | None = None):
        self.taken = set(taken or ())
        self.made = 0

    def make(self, title: str) -> str:
        base = slug_id(title)
        candidate, n = base, 1
        while candidate in self.taken:
            n += 1
            candidate = f"{base}-{n}"
        self.taken.add(candidate)
        self.made += 1
        return candidate
