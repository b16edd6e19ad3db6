"""Structured logs (one JSON object a line) with shoppers' emails, phone numbers and card numbers redacted.

Matching runs on the text folded to NFKC (so full-width `ｊｏｈｎ＠ｅｘａｍｐｌｅ．ｃｏｍ` or `５５５-０１４２` are caught), but
only the matched spans are replaced: the rest of a line stays as written. Emails may be internationalised
(`jøhn@exämple.com`, `ü@例え.jp`); card numbers are digit runs or groups (spaces, dots or dashes, single or
repeated) that pass the Luhn check; phone numbers are what `phonenumbers`' matcher finds (international, or
national and local for `PHONE_REGION`), never a run holding a 5-digit group such as two order numbers. Order
numbers, prices and dates stay.
"""

from __future__ import annotations

import json
import logging
import re
import time
import unicodedata
from collections.abc import Callable, Iterator

import phonenumbers

PHONE_REGION = "US"  # how numbers written without a country code are read
_NOT_LOCAL = r"\s@<>()\[\]{}\\,;:\"'`=|/"
EMAIL = re.compile(rf"[^{_NOT_LOCAL}]+@[^{_NOT_LOCAL}.!?]+(?:\.[^{_NOT_LOCAL}.!?]+)+")
_SEP = r"[ .\-]{1,3}"
CARD = re.compile(rf"(?<![\w.,])(?:\d{{13,19}}"                                   # unbroken
                  rf"|\d{{4}}(?:{_SEP}\d{{4}}){{3}}"                                # 4-4-4-4
                  rf"|\d{{4}}{_SEP}\d{{6}}{_SEP}\d{{4,5}})(?!\w)")                 # 4-6-5 (Amex), 4-6-4
_DIGIT_GROUP = re.compile(r"\d+")
Span = tuple[int, int]


def _fold(text: str) -> tuple[str, list[int]]:
    """`text` with each character folded to NFKC, and for each folded character the index it came from."""
    if text.isascii():
        return text, list(range(len(text)))
    folded: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        char = unicodedata.normalize("NFKC", char) or char
        folded.append(char)
        origin.extend([index] * len(char))
    return "".join(folded), origin


def _substitute(text: str, find: Callable[[str], Iterator[Span]], placeholder: str) -> str:
    """`text` with each span `find` reports in its folded form replaced by `placeholder`."""
    folded, origin = _fold(text)
    pieces: list[str] = []
    done = 0
    for start, end in find(folded):
        first, last = origin[start], origin[end - 1] + 1
        if first < done:
            continue
        pieces += [text[done:first], placeholder]
        done = last
    return "".join(pieces) + text[done:] if pieces else text


def _emails(folded: str) -> Iterator[Span]:
    for match in EMAIL.finditer(folded):
        top = match.group().rsplit(".", 1)[1]
        if len(top) >= 2 and not top.isdigit():
            yield match.span()


def luhn(digits: str) -> bool:
    """The Luhn checksum every payment card number passes."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _cards(folded: str) -> Iterator[Span]:
    position = 0
    while (match := CARD.search(folded, position)) is not None:
        digits = "".join(_DIGIT_GROUP.findall(match.group()))
        if 13 <= len(digits) <= 19 and digits[0] in "23456" and luhn(digits):
            yield match.span()
            position = match.end()
        else:  # not a card: a real one may still start inside it ("0142 4111 1111 1111 1111")
            position = match.start() + 1


def _phones(folded: str, region: str = PHONE_REGION) -> Iterator[Span]:
    if sum(char.isdigit() for char in folded) < 7:  # the shortest number the matcher accepts
        return
    for match in phonenumbers.PhoneNumberMatcher(folded, region, leniency=phonenumbers.Leniency.POSSIBLE):
        start, end = match.start, match.end
        if (start > 0 and folded[start - 1].isalnum()) or (end < len(folded) and folded[end].isalnum()):
            continue  # part of a tracking number, an SKU or a hash
        if not match.raw_string.lstrip().startswith("+") and \
                any(len(group) == 5 for group in _DIGIT_GROUP.findall(match.raw_string)):
            continue  # order numbers ("10445 10446") are not phone numbers
        yield start, end


def redact_emails(text: str) -> str:
    return _substitute(text, _emails, "[email]")


def redact_cards(text: str) -> str:
    return _substitute(text, _cards, "[card]")


def redact_phones(text: str) -> str:
    return _substitute(text, _phones, "[phone]")


def redact(text: str) -> str:
    """`text` with emails, card numbers and phone numbers replaced by placeholders."""
    return redact_phones(redact_cards(redact_emails(text)))


def printable(text: str) -> str:
    """`text` as UTF-8 can write it: a lone surrogate becomes its escape (`\\ud800`) instead of failing the line."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


class JsonFormatter(logging.Formatter):
    """`{"time", "level", "logger", "message", "error"?}`, every string redacted; never fails on odd text."""

    def format(self, record: logging.LogRecord) -> str:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string or argument must not lose the line
            message = f"{record.msg!r} % {record.args!r}"
        entry = {"time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + "Z",
                 "level": record.levelname.lower(), "logger": printable(str(record.name)),
                 "message": redact(printable(str(message)))}
        if record.exc_info:
            entry["error"] = redact(printable(self.formatException(record.exc_info)))
        return json.dumps(entry, ensure_ascii=False)


def configure(level: str = "INFO") -> None:
    """Send every log line to stderr as redacted JSON."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)  # access lines carry session ids and tokens
