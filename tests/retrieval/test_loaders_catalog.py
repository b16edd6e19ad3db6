import json
from pathlib import Path

import pytest

from retrieval.loaders import CatalogMapping, DataError, load_catalog
from tests.support import write

GOOD = [
    {"id": "A1", "title": "Trail Shoe", "brand": "Kestrel", "category": "Shoes", "price": 89.5,
     "attributes": {"colors": ["blue", "black"], "sizes": ["9", "10"]}, "stock": 4, "rating": 4.5, "tags": ["trail"]},
    {"id": "A2", "title": "Rain Shell", "brand": "Ridgeway", "category": "Jackets", "price": "129.00", "stock": 0},
]


def test_json_list_and_wrapped(tmp_path: Path) -> None:
    plain = load_catalog(write(tmp_path / "c.json", json.dumps(GOOD)))
    wrapped = load_catalog(write(tmp_path / "w.json", json.dumps({"products": GOOD})))
    assert [p.id for p in plain] == [p.id for p in wrapped] == ["A1", "A2"]
    assert plain[0].colors == ("blue", "black") and plain[0].sizes == ("9", "10")
    assert plain[1].price == 129.0 and not plain[1].in_stock and plain[0].in_stock


def test_jsonl(tmp_path: Path) -> None:
    products = load_catalog(write(tmp_path / "c.jsonl", "\n".join(json.dumps(g) for g in GOOD) + "\n\n"))
    assert [p.title for p in products] == ["Trail Shoe", "Rain Shell"]


def test_csv_with_column_mapping_and_lists(tmp_path: Path) -> None:
    path = write(tmp_path / "export.csv",
                 "sku,name,vendor,type,price_usd,colour,inventory,material\n"
                 "S-1,Wool Beanie,Alder & Co,Accessories,$24.00,grey|navy,12,merino wool\n"
                 "S-2,\"Camp Mug, 12 oz\",Tidewater,Kitchen,\"1,019.99\",orange,,steel\n")
    mapping = CatalogMapping(columns={"id": "sku", "title": "name", "brand": "vendor", "category": "type",
                                      "price": "price_usd", "stock": "inventory", "attributes.colors": "colour"})
    beanie, mug = load_catalog(path, mapping)
    assert beanie.price == 24.0 and beanie.colors == ("grey", "navy") and beanie.stock == 12
    assert beanie.attributes["material"] == "merino wool"  # unmapped columns become attributes
    assert mug.title == "Camp Mug, 12 oz" and mug.price == 1019.99 and mug.stock is None


def test_nested_json_mapping(tmp_path: Path) -> None:
    path = write(tmp_path / "c.json", json.dumps([{"sku": 7, "name": "Lamp", "pricing": {"amount": 30}}]))
    [lamp] = load_catalog(path, CatalogMapping(columns={"id": "sku", "title": "name", "price": "pricing.amount"}))
    assert (lamp.id, lamp.price) == ("7", 30.0)


def test_bad_csv_rows_name_line_and_field(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.csv",
                 "id,title,price,stock\n"
                 "A1,Good,10,1\n"
                 "A2,,12,1\n"
                 "A3,Cheap,free,1\n"
                 "A4,Neg,5,-2\n"
                 "A1,Dup,5,1\n")
    with pytest.raises(DataError) as caught:
        load_catalog(path)
    text = str(caught.value)
    assert f"{path}:3: field 'title': missing required value" in text
    assert f"{path}:4: field 'price': price must be a non-negative number, got 'free'" in text
    assert f"{path}:5: field 'stock': stock cannot be negative" in text
    assert f"{path}:6: field 'id': duplicate product id 'A1' (first seen on line 2)" in text
    assert len(caught.value.issues) == 4


def test_bad_json_points_at_item_line(tmp_path: Path) -> None:
    text = '[\n  {"id": "A", "title": "x", "price": 1},\n  {"id": "B",\n   "title": "y", "price": 2, "rating": 9}\n]'
    with pytest.raises(DataError) as caught:
        load_catalog(write(tmp_path / "c.json", text))
    [issue] = caught.value.issues
    assert (issue.line, issue.field) == (3, "rating")


def test_json_syntax_error_has_line(tmp_path: Path) -> None:
    with pytest.raises(DataError) as caught:
        load_catalog(write(tmp_path / "c.json", '[\n {"id": "A",\n "title": }\n]'))
    assert caught.value.issues[0].line == 3 and "invalid JSON" in str(caught.value)


def test_jsonl_syntax_error_and_non_object(tmp_path: Path) -> None:
    with pytest.raises(DataError) as caught:
        load_catalog(write(tmp_path / "c.jsonl", '{"id":"A","title":"t","price":1}\n{oops\n[1]\n'))
    assert [i.line for i in caught.value.issues] == [2, 3]


def test_unknown_mapping_field_and_unsupported_type(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="unknown product field 'colour'"):
        load_catalog(write(tmp_path / "c.json", json.dumps(GOOD)), CatalogMapping(columns={"colour": "c"}))
    with pytest.raises(DataError, match="unsupported file type"):
        load_catalog(write(tmp_path / "c.xml", "<x/>"))
    with pytest.raises(DataError, match="file not found"):
        load_catalog(tmp_path / "missing.csv")


def test_ragged_csv_row(tmp_path: Path) -> None:
    with pytest.raises(DataError) as caught:
        load_catalog(write(tmp_path / "c.csv", "id,title,price\nA,b,1,extra\n"))
    assert caught.value.issues[0].line == 2 and "4 fields" in str(caught.value)
