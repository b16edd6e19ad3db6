"""`shopbot write descriptions|campaign`: drafts written to files, bad input refused with a clear message."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from bot.cli import main
from bot.config import DEMO_KB


def test_write_descriptions_saves_a_draft_per_product(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["write", "descriptions", "--kb", str(DEMO_KB), "--products", "P1001,P1241",
                                       "--no-lm", "--out", str(tmp_path), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert "2 drafts" in result.output and "0 unsupported sentences" in result.output
    draft = json.loads((tmp_path / "P1001.json").read_text())
    assert draft["text"].startswith("The Tern Road Runner 3") and draft["coverage"]["share"] == 1.0
    assert all(s["sources"] for s in draft["sentences"]) and (tmp_path / "P1241.json").is_file()


def test_write_descriptions_missing_and_bad_input(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["write", "descriptions", "--kb", str(DEMO_KB), "--missing", "--no-lm",
                                  "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert 0 < len(list(tmp_path.glob("*.md"))) < 334
    result = runner.invoke(main, ["write", "descriptions", "--kb", str(DEMO_KB), "--products", "P0000", "--no-lm"])
    assert result.exit_code == 2 and "P0000" in result.output and "Traceback" not in result.output
    result = runner.invoke(main, ["write", "descriptions", "--kb", str(DEMO_KB), "--products", "P1001", "--missing"])
    assert result.exit_code == 2 and "one" in result.output


def test_write_campaign_saves_the_draft(tmp_path: Path) -> None:
    out = tmp_path / "tent.md"
    result = CliRunner().invoke(main, ["write", "campaign", "--kb", str(DEMO_KB), "--segment",
                                       "bought a tent in the last 90 days", "--as-of", "2026-11-23", "--no-lm",
                                       "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "matching customers" in result.output and "**Subject:**" in out.read_text()
    result = CliRunner().invoke(main, ["write", "campaign", "--kb", str(DEMO_KB), "--segment", "bought a spaceship",
                                       "--no-lm"])
    assert result.exit_code == 2 and "spaceship" in result.output
