"""Small helpers every benchmark and `shopbot eval` command shares: percentiles and JSON reports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def percentile(values: list[float], share: float) -> float:
    """The value below which `share` of `values` fall (nearest rank; `share` in 0..1)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def write_report(path: Path | None, report: dict[str, Any]) -> None:
    """Write `report` as indented JSON to `path` (folders made as needed); nothing when `path` is None."""
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report, indent=2) + "\n")
