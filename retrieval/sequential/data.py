"""Interaction data for next-item recommendation, in the SASRec papers' plain format.

A training file has one `user item` pair per line, each shopper's interactions in time order; an evaluation file
one line per shopper, `user true_item neg_1 ... neg_n` (the true next item ranked among items never touched).
Bad lines are reported with file, line and field, all at once.

>>> sequences = load_sequences(Path("train.txt"))
>>> cases = load_cases(Path("dev.txt"))
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from retrieval.loaders.errors import IssueCollector


@dataclass(frozen=True)
class RankingCase:
    """One shopper to score: the item they took next, and the items it is ranked against."""

    user: int
    true_item: int
    negatives: tuple[int, ...]

    @property
    def candidates(self) -> tuple[int, ...]:
        """The true item first, then the negatives."""
        return (self.true_item, *self.negatives)


def _ints(parts: list[str], issues: IssueCollector, line: int, names: list[str]) -> list[int] | None:
    values = []
    for index, part in enumerate(parts):
        try:
            values.append(int(part))
        except ValueError:
            name = names[index] if index < len(names) else f"negative {index - len(names) + 1}"
            issues.add(f"'{part}' is not a whole number", line, name)
            return None
    return values


def load_sequences(path: Path) -> dict[int, list[int]]:
    """Each user's items in file order (their time order)."""
    issues = IssueCollector(path)
    sequences: dict[int, list[int]] = {}
    with Path(path).open(encoding="utf-8") as lines:
        for number, text in enumerate(lines, 1):
            parts = text.split()
            if not parts:
                continue
            if len(parts) != 2:
                issues.add(f"expected 'user item', got {len(parts)} fields", number)
                continue
            values = _ints(parts, issues, number, ["user", "item"])
            if values is not None:
                sequences.setdefault(values[0], []).append(values[1])
    issues.raise_if_any()
    return sequences


def load_cases(path: Path) -> list[RankingCase]:
    """The evaluation lines: `user true_item neg_1 ... neg_n`."""
    issues = IssueCollector(path)
    cases: list[RankingCase] = []
    with Path(path).open(encoding="utf-8") as lines:
        for number, text in enumerate(lines, 1):
            parts = text.split()
            if not parts:
                continue
            if len(parts) < 3:
                issues.add(f"expected 'user true_item negatives...', got {len(parts)} fields", number)
                continue
            values = _ints(parts, issues, number, ["user", "true_item"])
            if values is not None:
                cases.append(RankingCase(values[0], values[1], tuple(values[2:])))
    issues.raise_if_any()
    return cases


def item_count(sequences: dict[int, list[int]], cases: list[RankingCase] = ()) -> int:
    """The highest item number in the training sequences and the evaluation candidates (items count from 1)."""
    return max([i for items in sequences.values() for i in items] + [c for case in cases for c in case.candidates],
               default=0)
