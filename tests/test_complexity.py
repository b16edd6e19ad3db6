"""The dialogue's centre stays easy to change: no function in the engine or `bot/dialogue/` above radon's grade C."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import PROJECT_ROOT

radon_complexity = pytest.importorskip("radon.complexity")
GUARDED = [PROJECT_ROOT / "bot" / "engine.py", *sorted((PROJECT_ROOT / "bot" / "dialogue").glob("*.py"))]
MOST = 20  # grade C is 11 to 20


@pytest.mark.parametrize("path", GUARDED, ids=lambda p: str(p.relative_to(PROJECT_ROOT)))
def test_no_function_is_above_grade_c(path: Path) -> None:
    blocks = radon_complexity.cc_visit(path.read_text(encoding="utf-8"))
    functions = [b for b in blocks if not hasattr(b, "methods")]
    functions += [m for b in blocks if hasattr(b, "methods") for m in b.methods]
    too_complex = {f"{f.fullname} (line {f.lineno})": f.complexity for f in functions if f.complexity > MOST}
    assert not too_complex, f"split these (radon grade above C): {too_complex}"
