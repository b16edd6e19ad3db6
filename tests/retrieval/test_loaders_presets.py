"""Catalog exports loaded as exported: Shopify and WooCommerce presets, columns guessed by name, ids made from
titles, and bad rows reported (or skipped) with file, line and field."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from retrieval.loaders import DataError, load_knowledge_base
from retrieval.loaders.catalog import CatalogMapping, load_catalog
from retrieval.loaders.errors import LoadReport
from retrieval.loaders.presets import detect_preset, guess_columns
from tests.support import write

EXPORTS = Path(__file__).parent / "fixtures" / "exports"
SHOPIFY = EXPORTS / "shopify_products.csv"
WOOCOMMERCE = EXPORTS / "woocommerce_products.csv"
ELECTRONICS = EXPORTS / "electronics_export.csv"


def by_id(products: list) -> dict:
    return {p.id: p for p in products}


def shopify_with(tmp_path: Path, *rows: dict[str, str]) -> Path:
    """The Shopify fixture plus extra rows (only the named cells filled), written as a new export."""
    text = SHOPIFY.read_text(encoding="utf-8")
    header = next(csv.reader(io.StringIO(text)))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in rows:
        writer.writerow([row.get(h, "") for h in header])
    return write(tmp_path / "products_export.csv", text + out.getvalue())


def test_shopify_variants_fold_into_one_product() -> None:
    products = by_id(load_catalog(SHOPIFY, CatalogMapping(preset="shopify")))
    assert list(products) == ["ridgeline-trail-runner", "merino-beanie", "cafe-rain-shell", "enamel-camp-mug"]
    shoe = products["ridgeline-trail-runner"]
    assert (shoe.title, shoe.brand, shoe.category) == ("Ridgeline Trail Runner", "Kestrel", "Trail Running Shoes")
    assert shoe.sizes == ("8", "9", "10", "11") and shoe.colors == ("black", "blue")
    assert shoe.price == 129.0 and shoe.attributes["price_max"] == 139.0
    assert shoe.stock == 12 and shoe.in_stock
    assert shoe.image.endswith("ridgeline-black.jpg") and shoe.url == "/products/ridgeline-trail-runner"
    assert shoe.description == ("A grippy trail shoe with a waterproof membrane & a rock plate. Lugged outsole "
                                "Gusseted tongue")
    assert shoe.tags == ("running", "trail", "waterproof")
    beanie = products["merino-beanie"]  # a single "Default Title" variant: no options
    assert beanie.sizes == () and beanie.colors == () and "price_max" not in beanie.attributes
    shell = products["cafe-rain-shell"]
    assert shell.title == "Café Rain Shell – Ultralight™" and shell.colors == ("moss", "slate")  # "Colour"
    assert products["enamel-camp-mug"].category == "Mugs"  # no Type: the last step of Product Category
    assert "prototype-stove" not in products  # a draft


def test_woocommerce_variations_fold_into_their_parent() -> None:
    assert WOOCOMMERCE.read_bytes().startswith(b"\xef\xbb\xbf")  # WooCommerce writes a BOM
    products = by_id(load_catalog(WOOCOMMERCE, CatalogMapping(preset="woocommerce")))
    assert list(products) == ["HOODIE-SUMMIT", "BOTTLE-750", "107", "TOTE-CANVAS"]
    hoodie = products["HOODIE-SUMMIT"]
    assert hoodie.sizes == ("S", "M", "L") and hoodie.colors == ("grey", "navy")
    assert hoodie.price == 45.0  # a variation on sale
    assert hoodie.attributes["price_max"] == 59.0 and hoodie.attributes["regular_price"] == 55.0
    assert (hoodie.brand, hoodie.category, hoodie.stock) == ("Ridgeway", "Hoodies", 10)
    assert hoodie.description == "Brushed-back fleece with a scuba hood. Machine washable."
    assert hoodie.image.endswith("hoodie-grey.jpg")
    tote = products["TOTE-CANVAS"]  # variations name their parent by SKU
    assert (tote.price, tote.attributes["price_max"], tote.stock) == (34.0, 36.0, 7)
    assert tote.colors == ("natural", "black")
    assert products["107"].title == "Gear Repair Kit"  # no SKU: the ID
    assert "DRAFT-1" not in products


def test_auto_detects_each_platform_and_guesses_other_columns() -> None:
    assert [p.id for p in load_catalog(SHOPIFY, CatalogMapping(preset="auto"))] == \
        [p.id for p in load_catalog(SHOPIFY, CatalogMapping(preset="shopify"))]
    assert len(load_catalog(WOOCOMMERCE, CatalogMapping(preset="auto"))) == 4
    assert detect_preset(["ID", "Type", "SKU", "Name", "Regular price"]) == "woocommerce"
    assert detect_preset(["id", "title", "price"]) is None
    guessed = guess_columns([{"Product Name": "Mug", "Sale Price": "$4", "Stars": "4.5/5", "Vendor": "X",
                              "Num Reviews": "12", "Image URL": "https://x/y.jpg"}])
    assert guessed == {"title": "Product Name", "price": "Sale Price", "brand": "Vendor", "rating": "Stars",
                       "review_count": "Num Reviews", "image": "Image URL"}
    # a column whose values are not prices is not taken for the price
    assert "price" not in guess_columns([{"name": "Mug", "price": "ask us"}, {"name": "Hat", "price": "call"}])


def test_electronics_export_loads_with_no_hand_editing(tmp_path: Path) -> None:
    report = LoadReport()
    products = load_catalog(ELECTRONICS, CatalogMapping(preset="auto"), report)
    items = by_id(products)
    sony = items["sony-wh-1000xm5-wireless-noise-canceling-over-the-ear"]
    assert (sony.price, sony.attributes["price_max"], sony.rating, sony.review_count) == (299.99, 449.99, 4.5, 4317)
    assert sony.brand == "Sony" and sony.category == "Headphones" and sony.url.endswith("/sony-xm5")
    assert items["anker-65w-usb-c-charger"].price == 20.99  # "$20.99 "
    assert items["anker-65w-usb-c-charger-2"].price == 22.99  # the same title again: -2
    jbl = items["jbl-flip-6-portable-bluetooth-speaker"]
    assert (jbl.price, jbl.attributes["price_max"], jbl.review_count) == (99.99, 129.99, 2054)
    assert items["insignia-6-hdmi-cable"].rating is None  # "Not Yet Reviewed"
    assert items["samsung-27-odyssey-g5-gaming-monitor"].rating == 4.5  # "4,5"
    assert items["apple-airpods-pro-2nd-generation"].rating == 4.0  # "★★★★☆"
    watch = items["garmin-forerunner-265-running-smartwatch"]
    assert (watch.price, watch.currency, watch.rating) == (1299.0, "EUR", 4.4)
    assert any("made ids from the titles of 8 product(s)" in note for note in report.notes)
    assert not report.skipped
    again = load_catalog(ELECTRONICS, CatalogMapping(preset="auto"))
    assert [p.id for p in again] == [p.id for p in products]  # stable across runs
    # the same catalog as JSON, with other key names, loads the same way
    rows = list(csv.DictReader(io.StringIO(ELECTRONICS.read_text(encoding="utf-8"))))
    items_json = [{"name": r["Product Name"], "manufacturer": r["Brand"], "department": r["Category"],
                   "salePrice": r["Price"], "customerRating": r["Rating"]} for r in rows]
    path = write(tmp_path / "bestsellers.json", json.dumps({"products": items_json}, ensure_ascii=False, indent=1))
    from_json = load_catalog(path, CatalogMapping(preset="auto"))
    assert [p.id for p in from_json] == [p.id for p in products]
    assert [(p.price, p.rating, p.brand) for p in from_json] == [(p.price, p.rating, p.brand) for p in products]


def test_a_folder_with_only_an_export_loads_it(tmp_path: Path) -> None:
    (tmp_path / "catalog.csv").write_bytes(SHOPIFY.read_bytes())
    kb = load_knowledge_base(tmp_path)
    assert len(kb.products) == 4 and kb.product("cafe-rain-shell").sizes == ("S", "M", "L")


def test_shopify_bad_rows_name_line_and_column(tmp_path: Path) -> None:
    path = shopify_with(
        tmp_path,
        {"Handle": "no-title", "Title": "", "Option1 Name": "Title", "Option1 Value": "Default Title",
         "Variant Price": "10.00"},                                                    # line 14
        {"Handle": "cheap-socks", "Title": "Wool Socks", "Option1 Name": "Size", "Option1 Value": "M",
         "Variant Price": "cheap"},                                                    # line 15
        {"Handle": "merino-beanie", "Title": "Another Beanie", "Variant Price": "9.00"},  # line 16
        {"Handle": "", "Title": "Orphan", "Variant Price": "5.00"},                     # line 17
    )
    with pytest.raises(DataError) as caught:
        load_catalog(path, CatalogMapping(preset="shopify"))
    text = str(caught.value)
    assert f"{path}:14: field 'Title': missing required value" in text
    assert f"{path}:15: field 'Variant Price': price must be a non-negative number, got 'cheap'" in text
    assert f"{path}:16: field 'Handle': duplicate handle 'merino-beanie'" in text
    assert f"{path}:17: field 'Handle': missing required value" in text
    assert len(caught.value.issues) == 4

    report = LoadReport(skip_rows=True)
    products = load_catalog(path, CatalogMapping(preset="shopify"), report)
    assert [p.id for p in products] == ["ridgeline-trail-runner", "merino-beanie", "cafe-rain-shell",
                                        "enamel-camp-mug"]
    assert by_id(products)["merino-beanie"].title == "Merino Beanie"  # the first product keeps its handle
    assert sorted(i.line for i in report.skipped) == [14, 15, 16, 17]
    described = report.describe()
    assert "skipped 4 bad row(s)" in described and f"{path}:15: field 'Variant Price'" in described


def test_woocommerce_variation_without_its_parent(tmp_path: Path) -> None:
    text = WOOCOMMERCE.read_text(encoding="utf-8-sig").rstrip("\n").split("\n")
    header = next(csv.reader([text[0]]))
    row = dict.fromkeys(header, "")
    row.update({"ID": "200", "Type": "variation", "SKU": "LOST-1", "Name": "Lost", "Published": "1",
                "Regular price": "5", "Parent": "id:999"})
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow([row[h] for h in header])
    path = write(tmp_path / "wc.csv", "\n".join(text) + "\n" + out.getvalue())
    with pytest.raises(DataError) as caught:
        load_catalog(path, CatalogMapping(preset="auto"))
    [issue] = caught.value.issues
    assert (issue.line, issue.field) == (len(text) + 1, "Parent") and "'id:999'" in issue.message


def test_bom_crlf_odd_unicode_and_bad_values(tmp_path: Path) -> None:
    rows = [
        "sku,name,price,stars,reviews",
        "A1,Plain Mug,$12.00,4.5/5,10",
        'A2,"Zero\u200bwidth Caf\u0065\u0301 Mug ☕",8.50,★★★★☆,3',
        'A3,"Line\u2028separated title",9,4,1',
        "A4,,10,4,2",                     # missing title
        "A5,Cheap Hat,cheap,4,2",         # non-numeric price
        "A6,Loud Hat,15,7,2",             # rating out of range
        "A7,Negative Hat,15,4,-3",        # review count below zero
        "A8,Fine Hat,€15,5,0",
    ]
    path = tmp_path / "catalog.csv"
    path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(rows).encode() + b"\r\n")
    with pytest.raises(DataError) as caught:
        load_catalog(path, CatalogMapping(preset="auto"))
    found = {(i.line, i.field): i.message for i in caught.value.issues}
    assert found == {
        (5, "name"): "missing required value",
        (6, "price"): "price must be a non-negative number, got 'cheap'",
        (7, "stars"): "rating must be between 0 and 5, got 7",
        (8, "reviews"): "review_count cannot be negative, got -3",
    }
    report = LoadReport(skip_rows=True)
    products = by_id(load_catalog(path, CatalogMapping(preset="auto"), report))
    assert list(products) == ["A1", "A2", "A3", "A8"]
    assert products["A2"].title == "Zerowidth Café Mug ☕"
    assert products["A3"].title == "Line separated title"
    assert products["A1"].rating == 4.5 and products["A8"].currency == "EUR"
    assert [(i.line, i.field) for i in report.skipped] == [(5, "name"), (6, "price"), (7, "stars"), (8, "reviews")]


def test_every_problem_is_listed_with_a_summary_per_field(tmp_path: Path) -> None:
    lines = ["id,title,price"] + [f"P{n},Item {n}," for n in range(40)] + ["Q1,Bad,abc", "Q2,,3"]
    path = write(tmp_path / "catalog.csv", "\n".join(lines) + "\n")
    with pytest.raises(DataError) as caught:
        load_catalog(path)
    text = str(caught.value)
    assert len(caught.value.issues) == 42 and text.startswith("42 problems in store data:")
    for n in range(40):
        assert f"{path}:{n + 2}: field 'price': missing required value" in text
    assert "... and" not in text
    assert f"{path}: field 'price': 41 problem(s) (lines 2-42): mostly \"missing required value\"" in text
    assert f"{path}: field 'title': 1 problem(s) (lines 43)" in text


def test_ids_never_refuses_rows_without_an_id(tmp_path: Path) -> None:
    path = write(tmp_path / "catalog.csv", "id,title,price\n,Mug,4\nB,Hat,5\n")
    assert [p.id for p in load_catalog(path)] == ["mug", "B"]
    with pytest.raises(DataError) as caught:
        load_catalog(path, CatalogMapping(ids="never"))
    assert [(i.line, i.field) for i in caught.value.issues] == [(2, "id")]
    with pytest.raises(DataError, match="ids must be one of"):
        load_catalog(path, CatalogMapping(ids="sometimes"))
    with pytest.raises(DataError, match="unknown catalog preset 'magento'"):
        load_catalog(path, CatalogMapping(preset="magento"))


def test_made_ids_never_take_an_id_in_the_file(tmp_path: Path) -> None:
    path = write(tmp_path / "catalog.csv", "id,title,price\n,Mug,4\nmug,Other Mug,5\n,Mug,6\n")
    assert [p.id for p in load_catalog(path)] == ["mug-2", "mug", "mug-3"]


def test_store_yml_skip_bad_rows_and_ragged_rows(tmp_path: Path) -> None:
    write(tmp_path / "catalog.csv", "id,title,price\nA,Hat,12\nB,Scarf,1,extra\nC,Cap,cheap\nD,Sock,3\n")
    write(tmp_path / "faq.csv", "question,answer\nWhere are you?,Portland.\nNo answer?,\n")
    with pytest.raises(DataError) as caught:
        load_knowledge_base(tmp_path)
    assert {(Path(i.file).name, i.line) for i in caught.value.issues} == {("catalog.csv", 3), ("catalog.csv", 4),
                                                                          ("faq.csv", 3)}
    write(tmp_path / "store.yml", "name: Lenient\nskip_bad_rows: true\n")
    kb = load_knowledge_base(tmp_path)
    assert [p.id for p in kb.products] == ["A", "D"] and [e.id for e in kb.faq] == ["where-are-you"]
    assert sorted((Path(i.file).name, i.line, i.field) for i in kb.load_report.skipped) == [
        ("catalog.csv", 3, None), ("catalog.csv", 4, "price"), ("faq.csv", 3, "answer")]
    with pytest.raises(DataError):
        load_knowledge_base(tmp_path, skip_bad_rows=False)  # the argument wins over store.yml


def test_skipping_every_row_still_refuses_the_catalog(tmp_path: Path) -> None:
    path = write(tmp_path / "catalog.csv", "id,title,price\nA,,1\nB,Hat,x\n")
    with pytest.raises(DataError, match="no products left after skipping"):
        load_catalog(path, report=LoadReport(skip_rows=True))


def test_semicolon_and_tab_separated_exports(tmp_path: Path) -> None:
    semicolons = write(tmp_path / "eu.csv", "Artikelnummer;Name;Price;Rating\nA1;Uhr;1.299,00 €;4,5\nA2;Band;19,90 €;4\n")
    [watch, strap] = load_catalog(semicolons, CatalogMapping(preset="auto", columns={"id": "Artikelnummer"}))
    assert (watch.id, watch.price, watch.currency, watch.rating) == ("A1", 1299.0, "EUR", 4.5)
    assert strap.price == 19.9
    tabs = write(tmp_path / "t.csv", "id\ttitle\tprice\nA\tMug, large\t4\n")
    assert load_catalog(tabs)[0].title == "Mug, large"
