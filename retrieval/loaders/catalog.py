"""Load a product catalog from JSON, JSONL or CSV, with an optional column mapping or a platform preset.

Example (a CSV export with its own column names)::

    mapping = CatalogMapping(columns={"id": "Handle", "title": "Title", "price": "Variant Price",
                                      "brand": "Vendor", "category": "Type", "attributes.colors": "Color"})
    products = load_catalog(Path("products.csv"), mapping)

`CatalogMapping(preset="shopify")` (or `"woocommerce"`) reads that platform's product export as exported,
variants folded into one product (see `retrieval.loaders.presets`); `preset="auto"` detects the platform from the
headers, else matches the headers to our fields by name. Values are read as real exports write them: prices with
symbols, either decimal mark and ranges (the low end is `price`, the high end `attributes["price_max"]`), ratings
as numbers, fractions ("4.5/5"), sentences ("Rated 4.5 out of 5 stars based on 4317 reviews.", which also gives
`review_count`) or stars ("★★★★☆"). A row without an id gets one made from its title (`ids: "missing"`, the
default; `"never"` reports the row instead): the same title gives the same id on every run, and a title whose id
is taken gets "-2", "-3", ... in file order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from retrieval.documents import Product
from retrieval.loaders.errors import DataError, DataIssue, IssueCollector, LoadReport
from retrieval.loaders.presets import (
    PRESETS,
    SHOPIFY_LABELS,
    WOOCOMMERCE_LABELS,
    detect_preset,
    fold_shopify,
    fold_woocommerce,
    guess_columns,
    headers_of,
)
from retrieval.loaders.records import Record, read_records
from retrieval.loaders.values import IdMaker, clean_text, parse_count, parse_price, parse_rating, strip_html

PRODUCT_FIELDS = ("id", "title", "brand", "category", "subcategory", "price", "currency", "description",
                  "stock", "rating", "review_count", "image", "url", "tags", "final_sale", "attributes")
REQUIRED_FIELDS = ("id", "title", "price")
LIST_ATTRIBUTES = ("colors", "sizes")
ID_POLICIES = ("missing", "never")
_HTML = re.compile(r"<\s*/?\s*[a-zA-Z][^>]*>")


@dataclass
class CatalogMapping:
    """Maps our product fields (and `attributes.<name>`) to the source's column or key names.

    Dotted source names reach into nested JSON (`"pricing.amount"`). Source columns that are not mapped
    and are not product fields become attributes. `list_separator` splits list cells in CSV (tags, colors).
    `preset` reads a platform's export ("shopify", "woocommerce", or "auto" to detect it, else guess the columns
    by name); `ids` says whether rows without an id get one from their title ("missing") or are errors ("never").
    `labels` names fields in error messages when they differ from the source columns (a preset's columns).
    """

    columns: dict[str, str] = field(default_factory=dict)
    list_separator: str = "|"
    default_currency: str = "USD"
    preset: str | None = None
    ids: str = "missing"
    labels: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: dict[str, Any] | None) -> CatalogMapping:
        """A store.yml `sources.catalog` mapping; with neither `columns` nor `preset`, the preset is "auto"."""
        config = dict(config or {})
        columns = dict(config.get("columns") or {})
        preset = config.get("preset") or (None if columns else "auto")
        return cls(columns=columns, list_separator=str(config.get("list_separator", "|")),
                   default_currency=str(config.get("currency", "USD")),
                   preset=str(preset).strip().lower() if preset else None,
                   ids=str(config.get("ids", "missing")).strip().lower())

    def label(self, name: str) -> str:
        """The column an issue about our field `name` names."""
        return self.labels.get(name) or self.columns.get(name, name)


def load_catalog(path: Path, mapping: CatalogMapping | None = None, report: LoadReport | None = None) -> list[Product]:
    """Load and validate every product, or raise `DataError` listing every problem (file, line, field).

    A `report` gets notes on the ids made and the variants folded; when it has `skip_rows`, a bad row is left
    out and reported there instead, and only problems with the file as a whole raise.
    """
    mapping = mapping or CatalogMapping()
    issues = IssueCollector(path)
    unknown = [k for k in mapping.columns if k not in PRODUCT_FIELDS and not k.startswith("attributes.")]
    for key in unknown:
        issues.add(f"column mapping names unknown product field '{key}' (known: {', '.join(PRODUCT_FIELDS)})")
    if mapping.preset is not None and mapping.preset not in (*PRESETS, "auto"):
        issues.add(f"unknown catalog preset '{mapping.preset}' (known: {', '.join(PRESETS)}, auto)", None, "preset")
    if mapping.ids not in ID_POLICIES:
        issues.add(f"ids must be one of {', '.join(ID_POLICIES)}, got '{mapping.ids}'", None, "ids")
    issues.raise_if_any()

    bad_rows: list[DataIssue] = []  # ragged CSV rows: listed with the others, or skipped with them
    records = read_records(path, list_keys=("products", "catalog", "items"), bad_rows=bad_rows)
    issues.issues += bad_rows
    records, mapping = _apply_preset(records, mapping, issues, report)
    ids = _ids_for(records, mapping)
    products: list[Product] = []
    seen: dict[str, int | None] = {}
    made = 0
    for (line, record), made_id in zip(records, ids, strict=True):
        product = _to_product(record, line, mapping, issues, made_id)
        if product is None:
            continue
        if product.id in seen:
            issues.add(f"duplicate product id '{product.id}' (first seen on line {seen[product.id]})", line,
                       mapping.label("id"))
            continue
        seen[product.id] = line
        products.append(product)
        made += made_id is not None
    if report is not None and made:
        report.notes.append(f"{path}: made ids from the titles of {made} product(s) that had none")
    if not products and not issues.issues:
        issues.add("the catalog has no products")
    issues.settle(report)
    if not products:
        issues.add("the catalog has no products left after skipping its bad rows")
        issues.raise_if_any()
    return products


def _apply_preset(records: list[Record], mapping: CatalogMapping, issues: IssueCollector,
                  report: LoadReport | None) -> tuple[list[Record], CatalogMapping]:
    """Fold a platform export into product records, or add guessed columns (`auto`), as the mapping says."""
    preset = mapping.preset
    if preset == "auto":
        preset = detect_preset(headers_of(records))
        if preset is None:
            guessed = {k: v for k, v in guess_columns(records).items() if k not in mapping.columns}
            if report is not None and guessed:
                report.notes.append(f"{issues.file}: columns matched by name: "
                                    + ", ".join(f"{k} <- '{v}'" for k, v in guessed.items()))
            return records, _replace(mapping, columns={**guessed, **mapping.columns}, preset=None)
    if preset not in PRESETS:
        return records, mapping
    rows = len(records)
    folded = fold_shopify(records, issues) if preset == "shopify" else fold_woocommerce(records, issues)
    if report is not None and rows != len(folded):
        report.notes.append(f"{issues.file}: {preset} export: {rows} rows read as {len(folded)} products "
                            "(variant rows folded into their product; drafts left out)")
    labels = SHOPIFY_LABELS if preset == "shopify" else WOOCOMMERCE_LABELS
    return folded, _replace(mapping, columns={}, preset=None, labels=labels, list_separator=",")


def _replace(mapping: CatalogMapping, **changes: Any) -> CatalogMapping:
    values = {name: getattr(mapping, name) for name in CatalogMapping.__dataclass_fields__}
    return CatalogMapping(**{**values, **changes})


def _ids_for(records: list[Record], mapping: CatalogMapping) -> list[str | None]:
    """An id made from the title for each record that has none (None for the others, and for all with ids:
    never); ids in the file are never reused."""
    source = mapping.columns.get("id", "id")
    given = [_lookup(record, source) for _, record in records]
    if mapping.ids == "never":
        return [None] * len(records)
    maker = IdMaker({str(v).strip() for v in given if not _blank(v)})
    title_source = mapping.columns.get("title", "title")
    out: list[str | None] = []
    for (_, record), value in zip(records, given, strict=True):
        title = _lookup(record, title_source)
        out.append(maker.make(str(title)) if _blank(value) and not _blank(title) else None)
    return out


def _to_product(record: dict[str, Any], line: int | None, mapping: CatalogMapping,
                issues: IssueCollector, made_id: str | None = None) -> Product | None:
    before = len(issues.issues)

    def get(name: str) -> Any:
        return _lookup(record, mapping.columns.get(name, name))

    values: dict[str, Any] = {}
    for name in REQUIRED_FIELDS:
        value = made_id if name == "id" and made_id is not None else get(name)
        if name == "title" and not _blank(value):
            value = clean_text(value)
        if _blank(value):
            issues.add("missing required value", line, mapping.label(name))
        values[name] = value
    if len(issues.issues) > before:
        return None
    price = parse_price(values["price"])
    if price is None or price.low < 0:
        issues.add(f"price must be a non-negative number, got {values['price']!r}", line, mapping.label("price"))
    stock, rating, review_count = _numbers(get, line, mapping, issues)
    attributes = _attributes(record, get, line, mapping, issues)
    if price is not None and price.high is not None:
        attributes.setdefault("price_max", round(price.high, 2))
    tags = get("tags")
    if isinstance(tags, str):
        tags = _split(tags, mapping.list_separator)
    if tags is not None and not isinstance(tags, list):
        issues.add("tags must be a list or a separated string", line, mapping.label("tags"))
    if len(issues.issues) > before or price is None:
        return None
    currency = _text(get("currency")) or price.currency or mapping.default_currency
    return Product(
        id=clean_text(values["id"]), title=values["title"],
        brand=_text(get("brand")), category=_text(get("category")), subcategory=_text(get("subcategory")),
        price=round(float(price.low), 2), currency=currency.upper(),
        description=_description(get("description")), attributes=attributes, stock=stock, rating=rating,
        review_count=review_count, image=_first(get("image")), url=_text(get("url")),
        tags=tuple(str(t).strip().lower() for t in (tags or []) if str(t).strip()),
        final_sale=_boolean(get("final_sale")),
    )


def _numbers(get: Any, line: int | None, mapping: CatalogMapping,
             issues: IssueCollector) -> tuple[int | None, float | None, int | None]:
    """Stock, rating (0-5) and review count; a rating sentence gives the count when no column does."""
    stock = _optional(get("stock"), parse_count, "a whole number", "stock", line, mapping, issues)
    if stock is not None and stock < 0:
        issues.add(f"stock cannot be negative, got {stock}", line, mapping.label("stock"))
    rating_value = _optional(get("rating"), parse_rating, "a number", "rating", line, mapping, issues)
    rating = rating_value.rating if rating_value is not None else None
    if rating is not None and not 0 <= rating <= 5:
        issues.add(f"rating must be between 0 and 5, got {rating:g}", line, mapping.label("rating"))
    review_count = _optional(get("review_count"), parse_count, "a whole number", "review_count", line, mapping,
                             issues)
    if review_count is None and rating_value is not None:
        review_count = rating_value.review_count
    if review_count is not None and review_count < 0:
        issues.add(f"review_count cannot be negative, got {review_count}", line, mapping.label("review_count"))
    return stock, rating, review_count


def _attributes(record: dict[str, Any], get: Any, line: int | None, mapping: CatalogMapping,
                issues: IssueCollector) -> dict[str, Any]:
    """The record's `attributes`, the mapped `attributes.<name>` columns, and every unmapped scalar column."""
    attributes = get("attributes")
    if attributes is None or attributes == "":
        attributes = {}
    if not isinstance(attributes, dict):
        issues.add("attributes must be a mapping", line, mapping.label("attributes"))
        attributes = {}
    attributes = dict(attributes)
    for key, source in mapping.columns.items():
        if key.startswith("attributes."):
            value = _lookup(record, source)
            if value not in (None, ""):
                attributes[key.split(".", 1)[1]] = value
    mapped_sources = set(mapping.columns.values())
    for key, value in record.items():  # unmapped, unknown scalar columns become attributes
        if key in PRODUCT_FIELDS or key in mapped_sources or value in (None, ""):
            continue
        if isinstance(value, (str, int, float, bool)) or (isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value)):
            attributes[key] = value
    for key in LIST_ATTRIBUTES:
        if isinstance(attributes.get(key), str):
            attributes[key] = _split(attributes[key], mapping.list_separator)
    return attributes


def _lookup(record: dict[str, Any], source: str) -> Any:
    if source in record:
        return record[source]
    value: Any = record
    for part in source.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not clean_text(value))


def _optional(value: Any, reader: Any, noun: str, name: str, line: int | None, mapping: CatalogMapping,
              issues: IssueCollector) -> Any:
    if _blank(value):
        return None
    number = reader(value)
    if number is None:
        issues.add(f"{name} must be {noun}, got {value!r}", line, mapping.label(name))
    return number


def _split(value: str, separator: str) -> list[str]:
    return [part.strip() for part in value.split(separator) if part.strip()]


def _text(value: Any) -> str:
    return clean_text(value)


def _description(value: Any) -> str:
    text = "" if value is None else str(value)
    return strip_html(text) if _HTML.search(text) else clean_text(text)


def _first(value: Any) -> str:
    """An image cell: a URL, the first of a list, or the first of comma-separated URLs."""
    if isinstance(value, list):
        value = value[0] if value else ""
    text = _text(value)
    if "," in text and re.match(r"https?://", text):
        text = text.split(",")[0].strip()
    return text


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"1", "true", "yes", "y"}


__all__ = ["CatalogMapping", "DataError", "LoadReport", "load_catalog"]
