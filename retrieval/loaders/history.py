"""Load a store's browsing and purchase history (`history.csv` or `.jsonl`: `shopper,timestamp,event,product_id`)
and turn it into what a next-item recommender trains and is scored on.

Every row is checked (a known event, an ISO-8601 timestamp with a UTC offset, a product the catalog has, a
shopper); problems are reported all at once with file, line and field.

>>> events = load_history(Path("knowledge_base/demo/history.csv"), product_ids={p.id for p in kb.products})
>>> train, cases = held_out_split(events)
>>> purchases = sequences(train, events=("purchased",))
"""

from __future__ import annotations

import csv
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from pathlib import Path
from typing import NamedTuple

from retrieval.loaders.errors import DataError, DataIssue, IssueCollector
from retrieval.loaders.records import read_records

EVENTS = ("product_viewed", "card_clicked", "added_to_cart", "purchased")
HISTORY_FIELDS = ("shopper", "timestamp", "event", "product_id")
CUTS = ("visit", "cart", "purchase")
VISIT_GAP = timedelta(minutes=30)


class HistoryEvent(NamedTuple):
    """One thing one shopper did with one product, at a moment in UTC (a named tuple: a history is long)."""

    shopper: str
    timestamp: datetime
    event: str
    product_id: str


@dataclass(frozen=True, slots=True)
class HeldOutCase:
    """A shopper's last purchase, held back to be predicted from their events before it."""

    shopper: str
    product_id: str
    timestamp: datetime


def load_history(path: Path, product_ids: Collection[str] | None = None) -> list[HistoryEvent]:
    """Every event of the file, sorted by shopper, then time (file order breaks ties); raises `DataError` naming
    each bad row and field. With `product_ids`, a product the catalog does not have is an error too."""
    path = Path(path)
    issues = IssueCollector(path)
    rows = _csv_rows(path, issues) if path.suffix.lower() == ".csv" else _other_rows(path)
    known = frozenset(product_ids) if product_ids is not None else None
    events: list[HistoryEvent] = []
    for line, shopper, timestamp, event, product_id in rows:
        shopper, timestamp, event, product_id = shopper.strip(), timestamp.strip(), event.strip(), product_id.strip()
        if shopper and event in EVENTS and product_id and (known is None or product_id in known):
            moment = _utc(timestamp) if timestamp else None
            if moment is not None:  # the usual case, checked first: the history is long
                events.append(HistoryEvent(shopper, moment, event, product_id))
                continue
        if shopper or timestamp or event or product_id:  # else a row of blanks, skipped
            _report_row(issues, line, (shopper, timestamp, event, product_id), known)
    if not events and not issues.issues:
        issues.add("the history has no events")
    issues.raise_if_any()
    events.sort(key=itemgetter(0, 1))  # shopper, timestamp; stable: same-moment events keep their file order
    return events


Row = tuple[int, str, str, str, str]


def _report_row(issues: IssueCollector, line: int, values: tuple[str, str, str, str],
                known: frozenset[str] | None) -> None:
    """Every problem of a row that is not a valid event."""
    _, timestamp, event, product_id = values
    for name, value in zip(HISTORY_FIELDS, values):
        if not value:
            issues.add("missing required value", line, name)
    if event and event not in EVENTS:
        issues.add(f"unknown event '{event}' (expected one of {', '.join(EVENTS)})", line, "event")
    if product_id and known is not None and product_id not in known:
        issues.add(f"unknown product id '{product_id}' (not in the catalog)", line, "product_id")
    if timestamp and _utc(timestamp) is None:
        issues.add(f"'{timestamp}' is not an ISO-8601 timestamp with a UTC offset (e.g. 2026-06-01T14:03:22Z)",
                   line, "timestamp")


def _csv_rows(path: Path, issues: IssueCollector) -> list[Row]:
    """`(line, shopper, timestamp, event, product_id)` of each row, as written (not stripped), the columns found by
    the header (any order, others ignored); read with the csv module directly: a history has many rows. A row of
    the wrong width goes to `issues`; a file that cannot be read as CSV raises `DataError` at once."""
    if not path.is_file():
        raise DataError([DataIssue(str(path), "file not found")])
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError([DataIssue(str(path), f"not UTF-8 text (byte {exc.start})")]) from None
    reader = csv.reader(text.splitlines(keepends=True), strict=True)
    try:
        header = next(reader, None)
        if header is None:
            issues.add("empty CSV file (no header row)", 1)
            issues.raise_if_any()
        names = [h.strip() for h in header]
        absent = [name for name in HISTORY_FIELDS if name not in names]
        if absent:
            issues.add(f"the header has no {', '.join(repr(a) for a in absent)} column "
                       f"(expected {','.join(HISTORY_FIELDS)})", 1)
            issues.raise_if_any()
        pick = itemgetter(*(names.index(name) for name in HISTORY_FIELDS))
        width = len(names)
        rows: list[Row] = []
        line = reader.line_num + 1
        for row in reader:
            if len(row) == width and any(row):
                rows.append((line, *pick(row)))
            elif any(cell.strip() for cell in row):
                issues.add(f"row has {len(row)} fields, the header has {width}", line)
            line = reader.line_num + 1
    except csv.Error as exc:
        issues.add(f"invalid CSV: {exc}", reader.line_num)
        issues.raise_if_any()
    return rows


def _other_rows(path: Path) -> list[Row]:
    """The same rows from a .jsonl (or .json, .yml) file of `{shopper, timestamp, event, product_id}` objects."""
    return [(line, *("" if record.get(name) is None else str(record.get(name)) for name in HISTORY_FIELDS))
            for line, record in read_records(path, list_keys=("history", "events"))]


def _utc(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is UTC:
        return moment
    if moment.tzinfo is None:
        return None
    return moment.astimezone(UTC)


def sequences(records: Iterable[HistoryEvent], events: Collection[str] | None = None) -> dict[str, list[str]]:
    """Each shopper's product ids in time order (`records` as `load_history` sorts them), keeping only the
    `events` named (all events when None)."""
    wanted = set(EVENTS if events is None else events)
    out: dict[str, list[str]] = {}
    for record in records:
        if record.event in wanted:
            out.setdefault(record.shopper, []).append(record.product_id)
    return out


def held_out_split(records: Iterable[HistoryEvent], cut: str = "visit",
                   ) -> tuple[list[HistoryEvent], list[HeldOutCase]]:
    """Hold back each shopper's last purchase, to be predicted from everything before it (`records` in any order;
    each shopper's are put in time order, their order breaking ties; both lists come back by shopper).

    Shoppers with at least one purchase and either two purchases or three events get a case. Their training
    records end where `cut` says: "visit" (the default) at the start of the visit that ends in that purchase (a
    visit: events less than VISIT_GAP apart), so the case asks what the shopper buys when they next come back;
    "cart" at the last time that product went into the cart before it; "purchase" at the purchase itself (the
    product's views just before it, and its cart, then give it away). Every other shopper's events are all
    training records; a shopper with nothing before the cut gets no case."""
    if cut not in CUTS:
        raise ValueError(f"cut must be one of {', '.join(CUTS)}, not {cut!r}")
    by_shopper: dict[str, list[HistoryEvent]] = {}
    for record in records:
        by_shopper.setdefault(record.shopper, []).append(record)
    train: list[HistoryEvent] = []
    cases: list[HeldOutCase] = []
    for shopper in sorted(by_shopper):
        items = sorted(by_shopper[shopper], key=itemgetter(1))
        purchases = [i for i, e in enumerate(items) if e.event == "purchased"]
        if not purchases or (len(purchases) < 2 and len(items) < 3):
            train += items
            continue
        target = items[purchases[-1]]
        end = _cut_index(items, purchases[-1], cut)
        if end == 0:
            train += items
            continue
        train += items[:end]
        cases.append(HeldOutCase(shopper, target.product_id, target.timestamp))
    return train, cases


def _cut_index(items: list[HistoryEvent], purchase: int, cut: str) -> int:
    """Index of the first event left out of training, for the purchase at `purchase`."""
    if cut == "cart":
        product = items[purchase].product_id
        return next((i for i in range(purchase - 1, -1, -1)
                     if items[i].event == "added_to_cart" and items[i].product_id == product), purchase)
    if cut == "visit":
        start = purchase
        while start > 0 and items[start].timestamp - items[start - 1].timestamp < VISIT_GAP:
            start -= 1
        return start
    return purchase
