"""The shopping-history loader: row checks with file, line and field; time order; the held-out split; and
history.csv as an optional file of a knowledge-base folder."""

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from retrieval.loaders import DataError, HistoryEvent, load_history, load_knowledge_base
from retrieval.loaders.history import HeldOutCase, held_out_split, sequences
from tests.support import write

HEADER = "shopper,timestamp,event,product_id\n"
CATALOG = "id,title,price\nP1,Tent,199\nP2,Sleeping bag,89\nP3,Sleeping pad,59\nP4,Stove,45\n"
IDS = {"P1", "P2", "P3", "P4"}


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _event(shopper: str, when: str, event: str, product: str) -> HistoryEvent:
    return HistoryEvent(shopper, _at(when), event, product)


def test_rows_come_back_sorted_by_shopper_then_time_in_utc(tmp_path: Path) -> None:
    path = write(tmp_path / "history.csv", HEADER +
                 "s2,2026-06-02T10:00:00Z,product_viewed,P2\n"
                 "s1,2026-06-01T12:00:00+02:00,purchased,P1\n"       # 10:00 UTC
                 "s1,2026-06-01T09:00:00Z,product_viewed,P1\n"
                 "\n"
                 "s1,2026-06-01T10:00:00Z,added_to_cart,P1\n"          # same moment as the purchase: file order
                 " s2 , 2026-06-01T08:00:00Z ,card_clicked, P3\n")
    events = load_history(path, IDS)
    assert events == [_event("s1", "2026-06-01T09:00:00", "product_viewed", "P1"),
                      _event("s1", "2026-06-01T10:00:00", "purchased", "P1"),
                      _event("s1", "2026-06-01T10:00:00", "added_to_cart", "P1"),
                      _event("s2", "2026-06-01T08:00:00", "card_clicked", "P3"),
                      _event("s2", "2026-06-02T10:00:00", "product_viewed", "P2")]
    assert events[1].timestamp.tzinfo is UTC


def test_errors_name_file_line_and_field(tmp_path: Path) -> None:
    path = write(tmp_path / "history.csv", HEADER +
                 "s1,2026-06-01T09:00:00Z,product_viewed,P1\n"
                 "s1,2026-06-01T09:05:00Z,zoomed_in,P1\n"
                 "s1,2026-06-01T09:06:00Z,purchased,P9\n"
                 ",2026-06-01T09:07:00Z,purchased,P1\n"
                 "s1,yesterday,purchased,P1\n"
                 "s1,2026-06-01T09:08:00,purchased,P1\n"                # no UTC offset
                 "s1,2026-06-01T09:09:00Z,,\n"
                 "s1,2026-06-01T09:10:00Z,purchased\n")
    with pytest.raises(DataError) as caught:
        load_history(path, IDS)
    found = {(i.line, i.field) for i in caught.value.issues}
    assert found == {(3, "event"), (4, "product_id"), (5, "shopper"), (6, "timestamp"), (7, "timestamp"),
                     (8, "event"), (8, "product_id"), (9, None)}
    assert all(i.file == str(path) for i in caught.value.issues)
    message = str(caught.value)
    assert f"{path}:3: field 'event': unknown event 'zoomed_in'" in message
    assert f"{path}:4: field 'product_id': unknown product id 'P9'" in message
    assert f"{path}:9: row has 3 fields, the header has 4" in message


def test_a_missing_column_is_one_error_on_the_header(tmp_path: Path) -> None:
    path = write(tmp_path / "history.csv", "shopper,time,event,product_id\ns1,2026-06-01T09:00:00Z,purchased,P1\n")
    with pytest.raises(DataError) as caught:
        load_history(path, IDS)
    [issue] = caught.value.issues
    assert issue.line == 1 and "'timestamp'" in issue.message
    with pytest.raises(DataError, match="no events"):
        load_history(write(tmp_path / "empty.csv", HEADER), IDS)


def test_jsonl_reads_like_csv_and_product_ids_are_unchecked_without_a_catalog(tmp_path: Path) -> None:
    rows = [{"shopper": "s1", "timestamp": "2026-06-01T09:00:00Z", "event": "product_viewed", "product_id": "P1"},
            {"shopper": "s1", "timestamp": "2026-06-01T09:01:00Z", "event": "purchased", "product_id": "P1"}]
    jsonl = write(tmp_path / "history.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    csv_path = write(tmp_path / "history.csv", HEADER + "".join(",".join(r.values()) + "\n" for r in rows))
    assert load_history(jsonl, IDS) == load_history(csv_path, IDS)
    bad = write(tmp_path / "bad.jsonl", json.dumps(rows[0]) + "\n" + json.dumps({**rows[1], "event": "paid"}) + "\n")
    with pytest.raises(DataError) as caught:
        load_history(bad, IDS)
    assert [(i.line, i.field) for i in caught.value.issues] == [(2, "event")]
    unknown = write(tmp_path / "unknown.csv", HEADER + "s1,2026-06-01T09:00:00Z,purchased,Z1\n")
    assert load_history(unknown)[0].product_id == "Z1"
    with pytest.raises(DataError):
        load_history(unknown, IDS)


def _history() -> list[HistoryEvent]:
    return [
        # s1: three visits; the last ends in buying the stove
        _event("s1", "2026-06-01T09:00:00", "product_viewed", "P1"),
        _event("s1", "2026-06-01T09:02:00", "added_to_cart", "P1"),
        _event("s1", "2026-06-01T09:03:00", "purchased", "P1"),
        _event("s1", "2026-06-05T18:00:00", "product_viewed", "P4"),
        _event("s1", "2026-06-09T18:00:00", "product_viewed", "P2"),
        _event("s1", "2026-06-09T18:05:00", "product_viewed", "P4"),
        _event("s1", "2026-06-09T18:06:00", "added_to_cart", "P4"),
        _event("s1", "2026-06-09T18:07:00", "purchased", "P4"),
        _event("s1", "2026-06-09T18:20:00", "product_viewed", "P3"),   # after the last purchase: left out
        # s2: one purchase in two events: too little for a case
        _event("s2", "2026-06-01T09:00:00", "product_viewed", "P2"),
        _event("s2", "2026-06-01T09:01:00", "purchased", "P2"),
        # s3: browses, never buys
        _event("s3", "2026-06-01T09:00:00", "product_viewed", "P3"),
        _event("s3", "2026-06-01T09:01:00", "card_clicked", "P1"),
        _event("s3", "2026-06-01T09:02:00", "product_viewed", "P1"),
        # s4: one purchase, its only visit: nothing before the visit, so no case under the default cut
        _event("s4", "2026-06-01T09:00:00", "product_viewed", "P3"),
        _event("s4", "2026-06-01T09:01:00", "added_to_cart", "P3"),
        _event("s4", "2026-06-01T09:02:00", "purchased", "P3"),
    ]


def test_held_out_split_holds_back_the_last_purchase_visit() -> None:
    events = _history()
    train, cases = held_out_split(list(reversed(events)))  # any order in; each shopper's put in time order
    assert cases == [HeldOutCase("s1", "P4", _at("2026-06-09T18:07:00"))]
    assert [e for e in train if e.shopper == "s1"] == events[:4]
    assert [e for e in train if e.shopper != "s1"] == events[9:]
    assert sequences(train, events=("purchased",)) == {"s1": ["P1"], "s2": ["P2"], "s4": ["P3"]}
    assert sequences(train)["s3"] == ["P3", "P1", "P1"]


def test_held_out_split_cut_at_the_cart_or_the_purchase() -> None:
    events = _history()
    train, cases = held_out_split(events, cut="cart")
    assert [c.shopper for c in cases] == ["s1", "s4"]
    assert [e for e in train if e.shopper == "s1"] == events[:6]
    assert [e for e in train if e.shopper == "s4"] == events[14:15]
    train, cases = held_out_split(events, cut="purchase")
    assert [e for e in train if e.shopper == "s1"] == events[:7]
    with pytest.raises(ValueError, match="cut must be one of"):
        held_out_split(events, cut="session")


def test_history_is_an_optional_file_of_a_knowledge_base(tmp_path: Path) -> None:
    write(tmp_path / "catalog.csv", CATALOG)
    assert load_knowledge_base(tmp_path).history == []
    write(tmp_path / "history.csv", HEADER + "s1,2026-06-01T09:00:00Z,purchased,P2\n"
                                             "s1,2026-06-01T08:00:00Z,product_viewed,P2\n")
    kb = load_knowledge_base(tmp_path)
    assert [e.event for e in kb.history] == ["product_viewed", "purchased"]
    write(tmp_path / "history.csv", HEADER + "s1,2026-06-01T09:00:00Z,purchased,P7\n")
    with pytest.raises(DataError) as caught:
        load_knowledge_base(tmp_path)
    assert [(i.file, i.line, i.field) for i in caught.value.issues] == [(str(tmp_path / "history.csv"), 2, "product_id")]


def test_store_yml_can_point_at_the_history_and_a_broken_catalog_does_not_flood_it(tmp_path: Path) -> None:
    write(tmp_path / "catalog.csv", CATALOG)
    write(tmp_path / "exports" / "events.csv", HEADER + "s1,2026-06-01T09:00:00Z,purchased,P2\n")
    write(tmp_path / "store.yml", "name: Test\nsources:\n  history: exports/events.csv\n")
    assert len(load_knowledge_base(tmp_path).history) == 1
    write(tmp_path / "catalog.csv", CATALOG + "P5,Lantern,cheap\n")
    with pytest.raises(DataError) as caught:
        load_knowledge_base(tmp_path)
    assert [Path(i.file).name for i in caught.value.issues] == ["catalog.csv"]
    (tmp_path / "catalog.csv").unlink()
    write(tmp_path / "faq.csv", "id,question,answer\nx,Where?,Here.\n")
    with pytest.raises(DataError, match="needs a catalog"):
        load_knowledge_base(tmp_path)
