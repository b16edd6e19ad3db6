"""Logs never carry a shopper's email, phone or card number."""

from __future__ import annotations

import io
import json
import logging
import sys

from bot.logs import JsonFormatter, redact


def test_emails_phones_and_cards_are_redacted() -> None:
    text = "avery_singh86@example.org called +1 (555) 014-2290 and paid with 4111 1111 1111 1111 for order 10445"
    assert redact(text) == "[email] called [phone] and paid with [card] for order 10445"


def test_log_lines_are_json_and_redacted() -> None:
    record = logging.LogRecord("shopbot.engine", logging.WARNING, __file__, 1, "shopper %s wrote", ("a@b.co",), None)
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "shopper [email] wrote" and line["level"] == "warning" and line["logger"] == "shopbot.engine"


def test_internationalised_and_full_width_emails_are_redacted() -> None:
    assert redact("from jøhn@exämple.com and ü@例え.jp") == "from [email] and [email]"
    assert redact("ｊｏｈｎ＠ｅｘａｍｐｌｅ．ｃｏｍ wrote") == "[email] wrote"
    assert redact("the shopper 'jøhn@example.com' asked: a@b.co!") == "the shopper '[email]' asked: [email]!"


def test_short_local_and_international_phone_numbers_are_redacted() -> None:
    assert redact("call 555-0142, +44 20 7946 0958 or (555) 014-2290") == "call [phone], [phone] or [phone]"
    assert redact("or ５５５-０１４２ tonight") == "or [phone] tonight"  # full-width digits


def test_cards_with_repeated_spaces_dots_or_full_width_digits_are_redacted() -> None:
    assert redact("card 4111  1111  1111  1111 and 4111.1111.1111.1111 end") == "card [card] and [card] end"
    assert redact("amex 3782 822463 10005, ４１１１ １１１１ １１１１ １１１１") == "amex [card], [card]"
    assert redact("call 555-0142 4111.1111.1111.1111 or order 10445 4111 1111 1111 1111") == \
        "call [phone] [card] or order 10445 [card]"  # a digit run before the card does not hide it


def test_order_numbers_prices_dates_and_references_are_kept() -> None:
    kept = ["order 10445 and 10446 cost $129.99 on 2026-11-23 at 12:30", "orders 10445 10446 10447",
            "order #10445 (placed 11/20/2026) for 1,299.00", "tracking 1Z999AA10123456784, sku PC-1042-BL qty 12",
            "4111111111111112 fails the Luhn check", "at 2026-11-23T12:00:00-05:00 from 10.0.0.1:5005"]
    assert [redact(text) for text in kept] == kept


def test_a_lone_surrogate_never_fails_a_log_line() -> None:
    stream = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")  # what stderr is on a UTF-8 system
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("shopbot.test_logs")
    logger.addHandler(handler)
    logger.propagate = False
    errors: list[BaseException] = []
    handler.handleError = lambda record: errors.append(sys.exc_info()[1])  # type: ignore[method-assign]
    try:
        logger.error("turn failed for %s", "hi \ud800 from a@b.co")
    finally:
        logger.removeHandler(handler)
    assert errors == []
    stream.flush()
    line = json.loads(stream.buffer.getvalue().decode("utf-8"))
    assert line["message"] == "turn failed for hi \\ud800 from [email]"
