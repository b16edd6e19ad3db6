"""The store's own rules the order actions quote (return window, refund timing), read from its `store.yml`.

A rule the store did not give is None, and the actions then say they do not know it rather than quoting another
store's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

log = logging.getLogger("shopbot.actions")


@dataclass(frozen=True)
class StorePolicy:
    """`return_window_days`: days after delivery a return can start; `refund_timing`: when a refund is issued
    ("3 business days after the return reaches our warehouse"); `bank_timing`: how long the bank takes to show it;
    `warranty`: whether the store describes a warranty."""

    return_window_days: int | None = None
    refund_timing: str | None = None
    bank_timing: str | None = None
    warranty: bool = False


def load_store_policy(kb_dir: Path) -> StorePolicy:
    """The policy in `kb_dir/store.yml` (`returns.window_days`, `refunds.processing_days`, `refunds.bank_days`,
    `warranty`);
    an unreadable file or a missing value gives None for that value."""
    path = Path(kb_dir) / "store.yml"
    if not path.is_file():
        return StorePolicy()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        log.warning("cannot read %s: %s", path, exc)
        return StorePolicy()
    if not isinstance(data, dict):
        return StorePolicy()
    returns, refunds = _section(data, "returns"), _section(data, "refunds")
    window = returns.get("window_days")
    if isinstance(window, bool) or not isinstance(window, int) or window < 0:
        if window is not None:
            log.warning("%s: field 'returns.window_days' must be a whole number of days, got %r", path, window)
        window = None
    return StorePolicy(window, _text(refunds.get("processing_days")), _text(refunds.get("bank_days")),
                       bool(data.get("warranty")))


def _section(data: dict[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name)
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None
