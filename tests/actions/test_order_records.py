"""Part of finding 12: one bad row in orders.json is reported by `shopbot validate` (file, line, field) and skipped
at run time with a warning, and every other order keeps working."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from click.testing import CliRunner

from actions.order_records import read_orders
from actions.store_backend import SqliteStoreBackend
from tests.support import DEMO_ORDERS


def broken_copy(tmp_path: Path) -> Path:
    data = json.loads(DEMO_ORDERS.read_text(encoding="utf-8"))
    data["orders"][3]["total"] = "lots"          # order 10404
    data["orders"][5]["email"] = None            # order 10406
    path = tmp_path / "shop" / "orders.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    (tmp_path / "shop" / "store.yml").write_text("name: Broken Shop\n", encoding="utf-8")
    return path


def test_bad_rows_are_reported_with_line_and_field(tmp_path: Path) -> None:
    path = broken_copy(tmp_path)
    orders, issues = read_orders(path)
    assert len(orders) == 78 and {o["id"] for o in orders} >= {"10403", "10405", "10445"}
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [(i.field, '"id": "10404"' in lines[i.line], '"id": "10406"' in lines[i.line]) for i in issues] == \
        [("total", True, False), ("email", False, True)]  # the line each bad order starts on


def test_the_back_end_skips_a_bad_row_and_keeps_the_rest(tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="shopbot.actions.orders")
    backend = SqliteStoreBackend.from_orders_file(broken_copy(tmp_path))
    assert backend.order("10404") is None and backend.verify("10445", "avery_singh86@example.org")
    warnings = [r.getMessage() for r in caplog.records]
    assert any("orders.json" in w and "field 'total'" in w for w in warnings)


def test_shopbot_validate_reports_the_bad_row(tmp_path: Path, monkeypatch) -> None:
    from bot.cli import main

    monkeypatch.delenv("SHOPBOT_ORDERS", raising=False)
    path = broken_copy(tmp_path)
    result = CliRunner().invoke(main, ["validate", "--kb", str(path.parent)])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert f"{path}:" in result.output and "field 'total'" in result.output and "field 'email'" in result.output


def test_unreadable_orders_are_one_problem_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "orders.json"
    path.write_text('{"orders": [ {"id": "1"', encoding="utf-8")
    orders, issues = read_orders(path)
    assert orders == [] and "invalid JSON" in issues[0].message and issues[0].line == 1
    assert SqliteStoreBackend.from_orders_file(path).order("1") is None
