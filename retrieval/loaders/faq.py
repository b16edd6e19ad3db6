"""Load FAQ entries from CSV (`id,question,answer[,topic][,alternates]`), YAML or JSON.

`alternates` are optional other phrasings of the question: a list in YAML/JSON, `|`-separated in CSV.
"""

from __future__ import annotations

from pathlib import Path

from retrieval.documents import FaqEntry
from retrieval.loaders.errors import IssueCollector
from retrieval.loaders.records import read_records

FAQ_REQUIRED = ("id", "question", "answer")


def load_faq(path: Path) -> list[FaqEntry]:
    """Load every FAQ entry, or raise `DataError` naming each bad row and field.

    YAML and JSON files hold a list of `{id, question, answer, topic?}` mappings, or a mapping with key `faq`.
    """
    issues = IssueCollector(path)
    entries: list[FaqEntry] = []
    seen: dict[str, int | None] = {}
    for line, record in read_records(path, list_keys=("faq", "faqs", "entries")):
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
    issues.raise_if_any()
    return entries
