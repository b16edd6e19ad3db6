"""`shopbot init`: a store folder from a catalog export and an FAQ, validated and served by the real loaders."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from bot.cli import main
from bot.scaffold import ScaffoldError, describe, detect_mapping, init_store
from retrieval.loaders import load_knowledge_base
from tests.support import write

EXPORTS = Path(__file__).parents[1] / "retrieval" / "fixtures" / "exports"
SHOPIFY = EXPORTS / "shopify_products.csv"
WOOCOMMERCE = EXPORTS / "woocommerce_products.csv"
ELECTRONICS = EXPORTS / "electronics_export.csv"
FAQ = EXPORTS / "faq_export.csv"


@pytest.fixture()
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("SHOPBOT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("SHOPBOT_FINETUNE", "false")
    return CliRunner()


def test_init_from_a_shopify_export_serves_folded_products(runner: CliRunner, tmp_path: Path, embedder) -> None:
    from bot.config import load_settings
    from bot.knowledge import open_store

    store = tmp_path / "my-shop"
    result = runner.invoke(main, ["init", str(store), "--catalog", str(SHOPIFY), "--faq", str(FAQ)])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Catalog: shopify product export" in out
    assert "Validation: OK - 4 products in 4 categories, 4 FAQ entries, 0 policy sections" in out
    for missing in ("nlu.yml: the generic customer-service NLU", "orders.json (or an order back-end): no order actions",
                    "policies/: FAQ-only answers", "history.csv: no personal recommendations"):
        assert f"  - {missing}" in out
    assert f"shopbot serve --kb {store}" in out and f"make run KB={store}" in out
    config = yaml.safe_load((store / "store.yml").read_text(encoding="utf-8"))
    assert config["name"] == "My Shop" and config["currency"] == "USD"
    assert config["sources"] == {"catalog": {"path": "catalog.csv", "preset": "shopify", "currency": "USD"},
                                 "faq": "faq.csv"}
    assert (store / "catalog.csv").read_bytes() == SHOPIFY.read_bytes()  # copied as exported

    validated = runner.invoke(main, ["validate", "--kb", str(store)])
    assert validated.exit_code == 0 and "My Shop: OK - 4 products" in validated.output

    kb = load_knowledge_base(store)
    assert kb.product("ridgeline-trail-runner").sizes == ("8", "9", "10", "11")
    opened = open_store(load_settings(kb_dir=store, cache_dir=tmp_path / "cache"), embedder=embedder)
    hits = opened.products.search("trail running shoes in size 10").hits
    assert hits and hits[0].product.id == "ridgeline-trail-runner" and "10" in hits[0].product.sizes
    answers = opened.index.search("how long does delivery take", k=3)
    assert answers[0].passage.id == "faq:how-long-does-shipping-take"


def test_init_maps_a_generic_export_by_column_names(tmp_path: Path) -> None:
    result = init_store(tmp_path / "gadgets", ELECTRONICS, FAQ, name="Gadget Barn")
    assert result.ok and result.preset is None
    assert "no id column: each product's id is made from its title" in describe(result)
    assert result.columns == {"title": "Product Name", "price": "Price", "brand": "Brand", "category": "Category",
                              "description": "Features", "rating": "Rating", "image": "Image URL",
                              "url": "Product URL"}
    spec = yaml.safe_load((tmp_path / "gadgets" / "store.yml").read_text())["sources"]["catalog"]
    assert spec["columns"]["title"] == "Product Name" and "preset" not in spec
    kb = load_knowledge_base(tmp_path / "gadgets")
    assert kb.name == "Gadget Barn" and len(kb.products) == 8
    assert kb.product("anker-65w-usb-c-charger-2").price == 22.99
    assert any("made ids from the titles of 8" in note for note in kb.load_report.notes)


def test_init_woocommerce_export_with_policies_and_links(tmp_path: Path) -> None:
    policies = tmp_path / "legal"
    write(policies / "returns.md", "# Returns\n\nUnworn items can be returned within 30 days.\n")
    result = init_store(tmp_path / "wc", WOOCOMMERCE, FAQ, policies=policies, link=True)
    assert result.ok and result.preset == "woocommerce"
    assert (tmp_path / "wc" / "catalog.csv").is_symlink() and (tmp_path / "wc" / "policies").is_symlink()
    assert "policies/" not in [m.what for m in result.missing]
    assert result.kb is not None and len(result.kb.policies) >= 1
    assert result.kb.product("HOODIE-SUMMIT").sizes == ("S", "M", "L")


def test_init_reports_bad_rows_and_skips_them_on_request(runner: CliRunner, tmp_path: Path) -> None:
    catalog = write(tmp_path / "in" / "products.csv",
                    "name,price,rating\nGood Mug,$9.99,4.5/5\n,12,4\nCheap Hat,cheap,4\nLoud Hat,15,9\n")
    failed = runner.invoke(main, ["init", str(tmp_path / "s"), "--catalog", str(catalog), "--faq", str(FAQ)])
    assert failed.exit_code == 2
    store_catalog = tmp_path / "s" / "catalog.csv"
    for line, column in ((3, "name"), (4, "price"), (5, "rating")):
        assert f"{store_catalog}:{line}: field '{column}'" in failed.output
    assert "--skip-bad-rows" in failed.output and "Traceback" not in failed.output

    skipped = runner.invoke(main, ["init", str(tmp_path / "s"), "--catalog", str(catalog), "--faq", str(FAQ),
                                   "--skip-bad-rows", "--force"])
    assert skipped.exit_code == 0, skipped.output
    assert "Validation: OK - 1 products" in skipped.output and "skipped 3 bad row(s)" in skipped.output
    assert f"{store_catalog}:5: field 'rating': rating must be between 0 and 5, got 9" in skipped.output
    assert yaml.safe_load((tmp_path / "s" / "store.yml").read_text())["skip_bad_rows"] is True
    validated = runner.invoke(main, ["validate", "--kb", str(tmp_path / "s")])
    assert validated.exit_code == 0 and f"{store_catalog}:4: field 'price'" in validated.output


def test_validate_skip_bad_rows_flag(runner: CliRunner, tmp_path: Path) -> None:
    write(tmp_path / "catalog.csv", "id,title,price\nA,Hat,12\nB,Scarf,cheap\n")
    write(tmp_path / "faq.csv", "id,question,answer\nx,Where?,Portland.\n")
    assert runner.invoke(main, ["validate", "--kb", str(tmp_path)]).exit_code == 2
    result = runner.invoke(main, ["validate", "--kb", str(tmp_path), "--skip-bad-rows"])
    assert result.exit_code == 0, result.output
    assert "1 products" in result.output and f"{tmp_path / 'catalog.csv'}:3: field 'price'" in result.output


def test_init_refuses_what_it_cannot_do(tmp_path: Path) -> None:
    store = tmp_path / "s"
    init_store(store, SHOPIFY, FAQ)
    with pytest.raises(ScaffoldError, match="already holds a store"):
        init_store(store, SHOPIFY, FAQ)
    with pytest.raises(ScaffoldError, match="not a woocommerce product export: no column 'sku', 'name', 'regular price'"):
        init_store(tmp_path / "t", SHOPIFY, FAQ, preset="woocommerce")
    with pytest.raises(ScaffoldError, match="catalog file not found"):
        init_store(tmp_path / "t", tmp_path / "nope.csv", FAQ)
    with pytest.raises(ScaffoldError, match="unsupported catalog file type '.xlsx'"):
        init_store(tmp_path / "t", write(tmp_path / "p.xlsx", "x"), FAQ)
    # --force replaces a store's files, never the files it is given
    inside = write(store / "catalog.csv", SHOPIFY.read_text(encoding="utf-8"))
    with pytest.raises(ScaffoldError, match="is one of the input files"):
        init_store(store, inside, FAQ, force=True)
    assert inside.is_file()


def test_detect_mapping_reads_the_currency_from_prices(tmp_path: Path) -> None:
    catalog = write(tmp_path / "c.csv", "title,price\nMug,\"12,50 €\"\nHat,\"1.299,00 €\"\nCap,$3\n")
    assert detect_mapping(catalog) == (None, {}, "EUR")
    assert detect_mapping(SHOPIFY)[0] == "shopify"
