"""Errors for malformed store data: every problem names the file, the line (or row) and the field."""

from __future__ import annotations

from dataclasses import dataclass
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


class DataError(ValueError):
    """Raised when store data cannot be loaded; nothing is half-loaded when it is raised."""

    def __init__(self, issues: list[DataIssue]):
        self.issues = list(issues)
        shown = "\n".join(f"  - {issue}" for issue in self.issues[:25])
        more = f"\n  ... and {len(self.issues) - 25} more" if len(self.issues) > 25 else ""
        noun = "problem" if len(self.issues) == 1 else "problems"
        super().__init__(f"{len(self.issues)} {noun} in store data:\n{shown}{more}")


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
