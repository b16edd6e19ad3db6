"""Load a product catalog from JSON, JSONL or CSV, with an optional column mapping.

Example (a Shopify-like CSV export)::

    mapping = CatalogMapping(columns={"id": "Handle", "title": "Title", "price": "Variant Price",
                                      "brand": "Vendor", "category": "Type", "attributes.colors": "Color"})
    products = load_catalog(Path("products.csv"), mapping)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from retrieval.documents import Product
from retrieval.loaders.errors import DataError, IssueCollector
from retrieval.loaders.records import read_records

PRODUCT_FIELDS = ("id", "title", "brand", "category", "subcategory", "price", "currency", "description",
                  "stock", "rating", "review_count", "image", "url", "tags", "final_sale", "attributes")
REQUIRED_FIELDS = ("id", "title", "price")
LIST_ATTRIBUTES = ("colors", "sizes")
_NUMBER = re.compile(r"^[^\d\-]*(-?\d[\d,]*(?:\.\d+)?)\s*[A-Za-z]{0,3}$")


@dataclass
class CatalogMapping:
    """Maps our product fields (and `attributes.<name>`) to the source's column or key names.

    Dotted source names reach into nested JSON (`"pricing.amount"`). Source columns that are not mapped
    and are not product fields become attributes. `list_separator` splits list cells in CSV (tags, colors).
    """

    columns: dict[str, str] = field(default_factory=dict)
    list_separator: str = "|"
    default_currency: str = "USD"

    @classmethod
    def from_config(cls, config: dict[str, Any] | None) -> CatalogMapping:
        config = dict(config or {})
        return cls(columns=dict(config.get("columns") or {}),
                   list_separator=str(config.get("list_separator", "|")),
                   default_currency=str(config.get("currency", "USD")))


def load_catalog(path: Path, mapping: CatalogMapping | None = None) -> list[Product]:
    """Load and validate every product, or raise `DataError` listing every problem (file, line, field)."""
    mapping = mapping or CatalogMapping()
    issues = IssueCollector(path)
    unknown = [k for k in mapping.columns if k not in PRODUCT_FIELDS and not k.startswith("attributes.")]
    for key in unknown:
        issues.add(f"column mapping names unknown product field '{key}' (known: {', '.join(PRODUCT_FIELDS)})")
    issues.raise_if_any()

    products: list[Product] = []
    seen: dict[str, int | None] = {}
    for line, record in read_records(path, list_keys=("products", "catalog", "items")):
        product = _to_product(record, line, mapping, issues)
        if product is None:
            continue
        if product.id in seen:
            issues.add(f"duplicate product id '{product.id}' (first seen on line {seen[product.id]})", line, "id")
            continue
        seen[product.id] = line
        products.append(product)
    if not products and not issues.issues:
        issues.add("the catalog has no products")
    issues.raise_if_any()
    return products


def _to_product(record: dict[str, Any], line: int | None, mapping: CatalogMapping,
                issues: IssueCollector) -> Product | None:
    before = len(issues.issues)
    mapped_sources = set(mapping.columns.values())

    def get(name: str) -> Any:
        return _lookup(record, mapping.columns.get(name, name))

    values: dict[str, Any] = {}
    for name in REQUIRED_FIELDS:
        value = get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            issues.add("missing required value", line, mapping.columns.get(name, name))
        values[name] = value
    if len(issues.issues) > before:
        return None

    price = _number(values["price"], float)
    if price is None or price < 0:
        issues.add(f"price must be a non-negative number, got {values['price']!r}", line, mapping.columns.get("price", "price"))
    stock = _optional_number(get("stock"), int, "stock", line, mapping, issues)
    if stock is not None and stock < 0:
        issues.add(f"stock cannot be negative, got {stock}", line, mapping.columns.get("stock", "stock"))
    rating = _optional_number(get("rating"), float, "rating", line, mapping, issues)
    if rating is not None and not 0 <= rating <= 5:
        issues.add(f"rating must be between 0 and 5, got {rating}", line, mapping.columns.get("rating", "rating"))
    review_count = _optional_number(get("review_count"), int, "review_count", line, mapping, issues)

    attributes = get("attributes")
    if attributes is None or attributes == "":
        attributes = {}
    if not isinstance(attributes, dict):
        issues.add("attributes must be a mapping", line, mapping.columns.get("attributes", "attributes"))
        attributes = {}
    attributes = dict(attributes)
    for key, source in mapping.columns.items():
        if key.startswith("attributes."):
            value = _lookup(record, source)
            if value not in (None, ""):
                attributes[key.split(".", 1)[1]] = value
    for key, value in record.items():  # unmapped, unknown scalar columns become attributes
        if key in PRODUCT_FIELDS or key in mapped_sources or value in (None, ""):
            continue
        if isinstance(value, (str, int, float, bool)) or (isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value)):
            attributes[key] = value
    for key in LIST_ATTRIBUTES:
        if isinstance(attributes.get(key), str):
            attributes[key] = _split(attributes[key], mapping.list_separator)

    tags = get("tags")
    if isinstance(tags, str):
        tags = _split(tags, mapping.list_separator)
    if tags is not None and not isinstance(tags, list):
        issues.add("tags must be a list or a separated string", line, mapping.columns.get("tags", "tags"))
        tags = []
    if len(issues.issues) > before:
        return None
    return Product(
        id=str(values["id"]).strip(), title=str(values["title"]).strip(),
        brand=_text(get("brand")), category=_text(get("category")), subcategory=_text(get("subcategory")),
        price=round(float(price), 2), currency=_text(get("currency")) or mapping.default_currency,
        description=_text(get("description")), attributes=attributes, stock=stock, rating=rating,
        review_count=review_count, image=_text(get("image")), url=_text(get("url")),
        tags=tuple(str(t).strip().lower() for t in (tags or []) if str(t).strip()),
        final_sale=_boolean(get("final_sale")),
    )


def _lookup(record: dict[str, Any], source: str) -> Any:
    if source in record:
        return record[source]
    value: Any = record
    for part in source.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _number(value: Any, kind: type) -> float | int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = value
    else:
        match = _NUMBER.match(str(value).strip())
        if not match:
            return None
        number = float(match.group(1).replace(",", ""))
    if kind is int:
        return int(number) if float(number).is_integer() else None
    return float(number)


def _optional_number(value: Any, kind: type, name: str, line: int | None, mapping: CatalogMapping,
                     issues: IssueCollector) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    number = _number(value, kind)
    if number is None:
        noun = "a whole number" if kind is int else "a number"
        issues.add(f"{name} must be {noun}, got {value!r}", line, mapping.columns.get(name, name))
    return number


def _split(value: str, separator: str) -> list[str]:
    return [part.strip() for part in value.split(separator) if part.strip()]


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"1", "true", "yes", "y"}


__all__ = ["CatalogMapping", "DataError", "load_catalog"]
