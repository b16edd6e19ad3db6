"""Load FAQ entries from CSV (`id,question,answer[,topic][,alternates]`), YAML or JSON.

`alternates` are optional other phrasings of the question: a list in YAML/JSON, `|`-separated in CSV. Column
names are matched without regard to case ("Question", "Answer"); an entry without an id gets one made from its
question (the same question gives the same id on every run).
"""

from __future__ import annotations

from pathlib import Path

from retrieval.documents import FaqEntry
from retrieval.loaders.errors import DataIssue, IssueCollector, LoadReport
from retrieval.loaders.records import read_records
from retrieval.loaders.values import IdMaker

FAQ_REQUIRED = ("id", "question", "answer")


def load_faq(path: Path, report: LoadReport | None = None) -> list[FaqEntry]:
    """Load every FAQ entry, or raise `DataError` naming each bad row and field.

    YAML and JSON files hold a list of `{id, question, answer, topic?}` mappings, or a mapping with key `faq`.
    With a `report` that skips rows, bad rows are left out and listed there instead.
    """
    issues = IssueCollector(path)
    entries: list[FaqEntry] = []
    seen: dict[str, int | None] = {}
    bad_rows: list[DataIssue] = []  # ragged CSV rows: listed with the others, or skipped with them
    records = read_records(path, list_keys=("faq", "faqs", "entries"), bad_rows=bad_rows)
    issues.issues += bad_rows
    records = [(line, {str(k).strip().lower(): v for k, v in record.items()}) for line, record in records]
    maker = IdMaker({str(r["id"]).strip() for _, r in records if str(r.get("id") or "").strip()})
    for line, record in records:
        if not str(record.get("id") or "").strip() and str(record.get("question") or "").strip():
            record["id"] = maker.make(str(record["question"]))
        values = {}
        for name in FAQ_REQUIRED:
            value = record.get(name)
            if value is None or not str(value).strip():
                issues.add("missing required value", line, name)
            values[name] = "" if value is None else str(value).strip()
        if any(not values[name] for name in FAQ_REQUIRED):
            continue
        if values["id"] in seen:
            issues.add(f"duplicate FAQ id '{values['id']}' (first seen on line {seen[values['id']]})", line, "id")
            continue
        seen[values["id"]] = line
        alternates = record.get("alternates") or []
        if isinstance(alternates, str):
            alternates = alternates.split("|")
        if not isinstance(alternates, list):
            issues.add("alternates must be a list or a |-separated string", line, "alternates")
            continue
        entries.append(FaqEntry(id=values["id"], question=values["question"], answer=values["answer"],
                                topic=str(record.get("topic") or "").strip(),
                                alternates=tuple(str(a).strip() for a in alternates if str(a).strip())))
    if not entries and not issues.issues:
        issues.add("the FAQ has no entries")
    issues.settle(report)
    if not entries:
        issues.add("the FAQ has no entries left after skipping its bad rows")
        issues.raise_if_any()
    if report is not None and maker.made:
        report.notes.append(f"{path}: made ids from the questions of {maker.made} FAQ entries that had none")
    return entries
