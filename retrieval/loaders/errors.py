"""Errors for malformed store data: every problem names the file, the line (or row) and the field."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class DataIssue:
    """One problem in one place of one file."""

    file: str
    message: str
    line: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = self.file + (f":{self.line}" if self.line is not None else "")
        what = f"field '{self.field}': " if self.field else ""
        return f"{where}: {what}{self.message}"


SUMMARY_FROM = 25  # more problems than this: the listing ends with a summary per file and field


class DataError(ValueError):
    """Raised when store data cannot be loaded; nothing is half-loaded when it is raised. Its message lists every
    problem, then (when there are many) how many each file and field has."""

    def __init__(self, issues: list[DataIssue]):
        self.issues = list(issues)
        noun = "problem" if len(self.issues) == 1 else "problems"
        super().__init__(f"{len(self.issues)} {noun} in store data:\n{format_issues(self.issues)}")


def format_issues(issues: list[DataIssue], summary_from: int = SUMMARY_FROM) -> str:
    """Every issue on its own line; past `summary_from` issues, a summary by file and field follows."""
    lines = [f"  - {issue}" for issue in issues]
    if len(issues) > summary_from:
        lines += ["  Summary by field:", *(f"    {line}" for line in summarise(issues))]
    return "\n".join(lines)


def summarise(issues: list[DataIssue]) -> list[str]:
    """One line per (file, field): how many rows, which lines, and the most common message."""
    groups: dict[tuple[str, str | None], list[DataIssue]] = {}
    for issue in issues:
        groups.setdefault((issue.file, issue.field), []).append(issue)
    out = []
    for (file, name), group in sorted(groups.items(), key=lambda item: -len(item[1])):
        messages: dict[str, int] = {}
        for issue in group:
            key = _message_kind(issue.message)
            messages[key] = messages.get(key, 0) + 1
        common = max(messages, key=lambda m: messages[m])
        lines = sorted(i.line for i in group if i.line is not None)
        where = f" (lines {_ranges(lines)})" if lines else ""
        what = f"field '{name}'" if name else "file"
        others = f"; {len(messages) - 1} other kind(s) of problem" if len(messages) > 1 else ""
        out.append(f"{file}: {what}: {len(group)} problem(s){where}: mostly \"{common}\"{others}")
    return out


def _message_kind(message: str) -> str:
    """A message without its quoted values, so that rows with the same problem count together."""
    return message.split(", got ")[0].split(" (first seen")[0].split(" '")[0]


def _ranges(lines: list[int], shown: int = 8) -> str:
    spans: list[tuple[int, int]] = []
    for line in lines:
        if spans and line <= spans[-1][1] + 1:
            spans[-1] = (spans[-1][0], line)
        else:
            spans.append((line, line))
    text = [f"{a}" if a == b else f"{a}-{b}" for a, b in spans[:shown]]
    return ", ".join(text) + (f", ... ({len(spans) - shown} more spans)" if len(spans) > shown else "")


@dataclass
class LoadReport:
    """What a load made up (`notes`: ids made, variants folded) and, with `skip_rows`, what it left out
    (`skipped`: one issue per skipped row)."""

    skip_rows: bool = False
    skipped: list[DataIssue] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """The notes, then every skipped row (with a summary when there are many)."""
        parts = [f"  note: {note}" for note in self.notes]
        if self.skipped:
            rows = {(i.file, i.line) for i in self.skipped}
            parts.append(f"  skipped {len(rows)} bad row(s):")
            parts.append(format_issues(self.skipped))
        return "\n".join(parts)


class IssueCollector:
    """Gathers issues while a file is read, then raises them all at once."""

    def __init__(self, path: str | Path):
        self.file = str(path)
        self.issues: list[DataIssue] = []

    def add(self, message: str, line: int | None = None, field: str | None = None) -> None:
        self.issues.append(DataIssue(self.file, message, line, field))

    def raise_if_any(self) -> None:
        if self.issues:
            raise DataError(self.issues)

    def settle(self, report: LoadReport | None) -> None:
        """Raise every issue, or, with a report that skips rows, move the row issues into it and raise only the
        issues about the file as a whole."""
        if report is not None and report.skip_rows:
            report.skipped += [i for i in self.issues if i.line is not None]
            self.issues = [i for i in self.issues if i.line is None]
        self.raise_if_any()
