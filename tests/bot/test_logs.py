"""Logs never carry a shopper's email, phone or card number."""

from __future__ import annotations

import json
import logging

from bot.logs import JsonFormatter, redact


def test_emails_phones_and_cards_are_redacted() -> None:
    text = "avery_singh86@example.org called +1 (555) 014-2290 and paid with 4111 1111 1111 1111 for order 10445"
    assert redact(text) == "[email] called [phone] and paid with [card] for order 10445"


def test_log_lines_are_json_and_redacted() -> None:
    record = logging.LogRecord("shopbot.engine", logging.WARNING, __file__, 1, "shopper %s wrote", ("a@b.co",), None)
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "shopper [email] wrote" and line["level"] == "warning" and line["logger"] == "shopbot.engine"
