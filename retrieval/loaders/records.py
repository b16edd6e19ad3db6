"""Read JSON, JSONL, CSV and YAML files into (line number, record) pairs, so errors can point at a line."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from retrieval.loaders.errors import DataError, DataIssue

Record = tuple[int, dict[str, Any]]


def read_records(path: Path, list_keys: tuple[str, ...] = (), bad_rows: list[DataIssue] | None = None) -> list[Record]:
    """Return `(line, record)` pairs from a .json, .jsonl, .csv, .yml or .yaml file.

    A JSON or YAML file may hold a list, or a mapping whose first key among `list_keys` holds the list. CSV rows
    with the wrong number of fields raise `DataError` (all of them listed), or, given a `bad_rows` list, are left
    out and reported there.
    """
    suffix = path.suffix.lower()
    if not path.is_file():
        raise DataError([DataIssue(str(path), "file not found")])
    text = _read_text(path)
    if suffix == ".jsonl":
        return list(_jsonl_records(path, text))
    if suffix == ".json":
        return _json_records(path, text, list_keys)
    if suffix == ".csv":
        return _csv_records(path, text, bad_rows)
    if suffix in (".yml", ".yaml"):
        return _yaml_records(path, text, list_keys)
    raise DataError([DataIssue(str(path), f"unsupported file type '{suffix}' (use .json, .jsonl, .csv, .yml)")])


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError([DataIssue(str(path), f"not UTF-8 text (byte {exc.start})")]) from None


def _jsonl_records(path: Path, text: str) -> Iterator[Record]:
    issues = []
    records = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            issues.append(DataIssue(str(path), f"invalid JSON: {exc.msg} (column {exc.colno})", number))
            continue
        if not isinstance(value, dict):
            issues.append(DataIssue(str(path), "each line must be a JSON object", number))
            continue
        records.append((number, value))
    if issues:
        raise DataError(issues)
    yield from records


def _json_records(path: Path, text: str, list_keys: tuple[str, ...]) -> list[Record]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError([DataIssue(str(path), f"invalid JSON: {exc.msg} (column {exc.colno})", exc.lineno)]) from None
    items = _pick_list(path, data, list_keys)
    lines = _json_item_lines(text, data, list_keys)
    issues = [DataIssue(str(path), "each item must be a JSON object", lines[i]) for i, item in enumerate(items)
              if not isinstance(item, dict)]
    if issues:
        raise DataError(issues)
    return list(zip(lines, items, strict=True))


def _json_item_lines(text: str, data: Any, list_keys: tuple[str, ...]) -> list[int]:
    """Line on which each item of the record list starts (found by decoding the items one by one)."""
    decoder = json.JSONDecoder()
    start = 0
    if isinstance(data, dict):
        key = next(k for k in list_keys if isinstance(data.get(k), list))
        start = text.index(json.dumps(key)) + len(json.dumps(key))
    pos = text.index("[", start) + 1
    lines = []
    count = len(_pick_list(Path("-"), data, list_keys))
    for _ in range(count):
        while text[pos] in " \t\r\n,":
            pos += 1
        lines.append(text.count("\n", 0, pos) + 1)
        _, pos = decoder.raw_decode(text, pos)
    return lines


def _pick_list(path: Path, data: Any, list_keys: tuple[str, ...]) -> list[Any]:
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        for key in list_keys:
            if isinstance(data.get(key), list):
                return data[key]
    wanted = " or ".join(f"'{k}'" for k in list_keys) or "a list"
    raise DataError([DataIssue(str(path), f"expected a list of records (or a mapping with {wanted})", 1)])


def _csv_records(path: Path, text: str, bad_rows: list[DataIssue] | None = None) -> list[Record]:
    # newline="" keeps line breaks inside quoted cells, and a title holding U+2028 or U+0085 stays on its line.
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=_delimiter(text), strict=True)
    try:
        fieldnames = reader.fieldnames
    except csv.Error as exc:
        raise DataError([DataIssue(str(path), f"invalid CSV: {exc}", 1)]) from None
    if not fieldnames:
        raise DataError([DataIssue(str(path), "empty CSV file (no header row)", 1)])
    records: list[Record] = []
    issues: list[DataIssue] = []
    try:
        line = reader.line_num + 1
        for row in reader:
            if None in row:
                issues.append(DataIssue(str(path), f"row has {len(fieldnames) + len(row[None])} fields, "
                                                   f"the header has {len(fieldnames)}", line))
            elif any(v is None for v in row.values()):
                missing = [k for k, v in row.items() if v is None]
                issues.append(DataIssue(str(path), "row has fewer fields than the header", line, missing[0]))
            elif any((v or "").strip() for v in row.values()):
                records.append((line, {k.strip(): v for k, v in row.items()}))
            line = reader.line_num + 1
    except csv.Error as exc:
        raise DataError([*issues, DataIssue(str(path), f"invalid CSV: {exc}", reader.line_num)]) from None
    if issues and bad_rows is None:
        raise DataError(issues)
    if bad_rows is not None:
        bad_rows += issues
    return records


def _delimiter(text: str) -> str:
    """"," unless the header row is split by ";" (spreadsheets in countries with a decimal comma) or tabs."""
    header = text.split("\n", 1)[0]
    counts = {mark: header.count(mark) for mark in (",", ";", "\t")}
    best = max(counts, key=lambda mark: counts[mark])
    return best if counts[best] > counts[","] else ","


class _LineLoader(yaml.SafeLoader):
    """A safe YAML loader that remembers the line where each mapping starts (key `__line__`)."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    mapping = loader.construct_mapping(node, deep=True)
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml_with_lines(path: Path, text: str | None = None) -> Any:
    """Parse YAML safely; each mapping gets a `__line__` key with its 1-based start line."""
    text = _read_text(path) if text is None else text
    with _yaml_errors(path):
        return yaml.load(text, Loader=_LineLoader)  # noqa: S506 - _LineLoader derives from SafeLoader


def compose_yaml(path: Path) -> yaml.Node | None:
    """The YAML node tree of a file (nodes keep their line marks); bad YAML raises `DataError` with the line."""
    text = _read_text(path)
    with _yaml_errors(path):
        return yaml.compose(text, Loader=yaml.SafeLoader)


@contextmanager
def _yaml_errors(path: Path) -> Iterator[None]:
    try:
        yield
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise DataError([DataIssue(str(path), f"invalid YAML: {problem}", line)]) from None


def _yaml_records(path: Path, text: str, list_keys: tuple[str, ...]) -> list[Record]:
    data = load_yaml_with_lines(path, text)
    items = _pick_list(path, data, list_keys)
    issues, records = [], []
    for item in items:
        if not isinstance(item, dict):
            issues.append(DataIssue(str(path), "each item must be a mapping", None))
            continue
        line = item.pop("__line__", None)
        records.append((line, strip_line_markers(item)))
    if issues:
        raise DataError(issues)
    return records


def strip_line_markers(value: Any) -> Any:
    """A copy of parsed YAML without the `__line__` keys `load_yaml_with_lines` added."""
    if isinstance(value, dict):
        return {k: strip_line_markers(v) for k, v in value.items() if k != "__line__"}
    if isinstance(value, list):
        return [strip_line_markers(v) for v in value]
    return value
