"""Catalog presets: Shopify's and WooCommerce's product CSV exports folded into one record per product, and a
column guess for any other export (its headers matched to our fields by name).

A Shopify export has one row per variant (and per extra image), grouped by `Handle`; the first row of a handle
carries the product (Title, Body (HTML), Vendor, Type, Tags, ...) and every variant row its `Option1..3 Value`,
`Variant Price` and `Variant Inventory Qty`. A WooCommerce export has one row per product and one per variation
(`Type` = `variation`, `Parent` = `id:<ID>` or the parent's SKU). Both fold into records keyed by our product
fields: sizes and colours (and other options) collected from the variants, the lowest variant price as `price` and
the highest as `attributes.price_max` when they differ, stock summed, HTML stripped.

>>> detect_preset(["Handle", "Title", "Body (HTML)", "Variant Price"])
'shopify'
>>> guess_columns([{"Product Name": "Mug", "Sale Price": "$4", "Stars": "4.5/5"}])
{'title': 'Product Name', 'price': 'Sale Price', 'rating': 'Stars'}
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from retrieval.loaders.errors import IssueCollector
from retrieval.loaders.values import clean_text, parse_count, parse_price, parse_rating, strip_html

Preset = Literal["shopify", "woocommerce"]
PRESETS: tuple[str, ...] = ("shopify", "woocommerce")
Record = tuple[int | None, dict[str, Any]]

SHOPIFY_SIGNATURE = ("handle", "title", "variant price")
WOOCOMMERCE_SIGNATURE = ("type", "sku", "name", "regular price")
SIZE_NAMES = {"size", "sizes", "shoe size", "clothing size", "taille", "größe", "grosse", "talla", "taglia", "maat"}
COLOR_NAMES = {"color", "colour", "colors", "colours", "farbe", "couleur", "kleur", "colore"}
#: Labels for issues about folded records: our field -> the export's column.
SHOPIFY_LABELS = {"id": "Handle", "title": "Title", "price": "Variant Price", "brand": "Vendor", "category": "Type",
                  "description": "Body (HTML)", "stock": "Variant Inventory Qty", "image": "Image Src", "tags": "Tags"}
WOOCOMMERCE_LABELS = {"id": "SKU", "title": "Name", "price": "Regular price", "brand": "Brands",
                      "category": "Categories", "description": "Description", "stock": "Stock", "image": "Images",
                      "tags": "Tags"}

#: Names an export may give each of our fields (compared lower-case, with punctuation and spaces as "_").
SYNONYMS: dict[str, tuple[str, ...]] = {
    "id": ("id", "sku", "product_id", "productid", "item_id", "asin", "handle", "product_code", "item_code",
           "code", "uniq_id", "uid", "article_number", "model_number"),
    "title": ("title", "name", "product_name", "product_title", "item_name", "item_title", "productname",
              "product"),
    "price": ("price", "sale_price", "current_price", "final_price", "selling_price", "offer_price", "price_usd",
              "unit_price", "variant_price", "regular_price", "list_price", "retail_price", "actual_price",
              "amount"),
    "brand": ("brand", "vendor", "manufacturer", "brand_name", "make", "maker", "brands"),
    "category": ("category", "product_type", "type", "department", "category_name", "main_category",
                 "categories", "product_category", "breadcrumbs", "category_path"),
    "subcategory": ("subcategory", "sub_category", "subcategory_name", "sub_category_name"),
    "description": ("description", "desc", "body", "body_html", "details", "product_description", "about",
                    "long_description", "short_description", "features", "product_details", "summary"),
    "stock": ("stock", "quantity", "qty", "inventory", "stock_quantity", "inventory_quantity", "inventory_qty",
              "units_in_stock", "available_quantity", "stock_level"),
    "rating": ("rating", "ratings", "stars", "star_rating", "average_rating", "avg_rating", "review_rating",
               "product_rating", "rating_value", "overall_rating", "review_score", "customer_rating",
               "customer_review_rating", "average_customer_rating", "score"),
    "review_count": ("review_count", "reviews_count", "num_reviews", "number_of_reviews", "reviews", "n_reviews",
                     "ratings_count", "rating_count", "total_reviews", "review_total", "no_of_ratings",
                     "number_of_ratings"),
    "image": ("image", "image_url", "img", "img_url", "thumbnail", "image_src", "picture", "images",
              "main_image", "image_link", "photo", "imageurl"),
    "url": ("url", "link", "product_url", "permalink", "href", "product_link", "page_url", "producturl"),
    "tags": ("tags", "keywords", "labels", "tag"),
    "currency": ("currency", "currency_code", "price_currency"),
}
_PREFIX = re.compile(r"^(?:product|item|prod|listing|article)_")
_NUMERIC = {"price": parse_price, "rating": parse_rating, "review_count": parse_count, "stock": parse_count}


def normalise(name: str) -> str:
    """A header compared by name: camelCase split, lower-case, punctuation and spaces as one "_"."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", str(name).strip())  # camelCase: camel_case
    return re.sub(r"[^0-9a-z]+", "_", spaced.lower()).strip("_")


def detect_preset(headers: Iterable[str]) -> Preset | None:
    """'shopify' or 'woocommerce' when the headers are that platform's product export, else None."""
    names = {str(h).strip().lower() for h in headers}
    if all(h in names for h in SHOPIFY_SIGNATURE):
        return "shopify"
    if all(h in names for h in WOOCOMMERCE_SIGNATURE):
        return "woocommerce"
    return None


def headers_of(records: list[Record] | list[dict[str, Any]], sample: int = 200) -> list[str]:
    """The keys of the first `sample` records, in first-seen order."""
    seen: dict[str, None] = {}
    for item in records[:sample]:
        record = item[1] if isinstance(item, tuple) else item
        seen.update(dict.fromkeys(record))
    return list(seen)


def guess_columns(records: list[Record] | list[dict[str, Any]]) -> dict[str, str]:
    """Our field -> the export's column, for the fields the export names differently; a column is used once.

    A header matches a field when its normalised name is one of the field's synonyms, or close to one (difflib
    ratio >= 0.85); a numeric field's column must hold values that read as that kind in at least half its cells.
    """
    rows = [item[1] if isinstance(item, tuple) else item for item in records[:200]]
    headers = headers_of(rows)
    free = {normalise(h): h for h in headers}
    found: dict[str, str] = {}
    for name, synonyms in SYNONYMS.items():
        if name in headers:  # already named as we name it
            free.pop(normalise(name), None)
            continue
        for pick in _candidates(synonyms, free):
            if _values_fit(name, [row.get(free[pick]) for row in rows]):
                found[name] = free.pop(pick)
                break
    return {key: found[key] for key in SYNONYMS if key in found}


def _candidates(synonyms: tuple[str, ...], free: dict[str, str]) -> list[str]:
    """Free headers (normalised) that name the field: a synonym as is, or after a "product_"/"item_" prefix, then
    close spellings."""
    bare = {_PREFIX.sub("", h): h for h in free if _PREFIX.match(h)}
    exact = [s for s in synonyms if s in free] + [bare[s] for s in synonyms if s in bare]
    close = [h for s in synonyms for h in difflib.get_close_matches(s, list(free), n=2, cutoff=0.85)]
    return list(dict.fromkeys(exact + close))


def _values_fit(name: str, values: list[Any]) -> bool:
    filled = [v for v in values if v not in (None, "") and not isinstance(v, (dict, list))]
    if any(isinstance(v, (dict, list)) for v in values if v is not None) and name not in ("image", "tags"):
        return False
    reader = _NUMERIC.get(name)
    if reader is None or not filled:
        return True
    return sum(reader(v) is not None for v in filled) * 2 >= len(filled)


# --- Shopify -----------------------------------------------------------------------------------------------


def fold_shopify(records: list[Record], issues: IssueCollector) -> list[Record]:
    """One record per handle: the product row's fields and every variant's options, price and stock."""
    rows = [(line, {str(k).strip().lower(): v for k, v in record.items()}) for line, record in records]
    groups: dict[str, dict[str, Any]] = {}
    for line, row in rows:
        handle = _cell(row, "handle")
        if not handle:
            issues.add("missing required value (every row needs its product's Handle)", line, "Handle")
            continue
        group = groups.get(handle)
        title = _cell(row, "title")
        if group is None:
            group = groups[handle] = {"line": line, "row": row, "variants": [], "images": [], "titled": bool(title)}
        elif title and group["titled"]:
            issues.add(f"duplicate handle '{handle}': a second product row (the product starts on line "
                       f"{group['line']})", line, "Handle")
            continue
        elif title:  # image or variant rows came first; this is the product row
            group.update(row=row, titled=True)
        image = _cell(row, "image src") or _cell(row, "variant image")
        if image:
            group["images"].append(image)
        if _cell(row, "variant price") or any(_cell(row, f"option{i} value") for i in (1, 2, 3)):
            group["variants"].append((line, row))
    folded: list[Record] = []
    for handle, group in groups.items():
        status = _cell(group["row"], "status").lower()
        if status in ("draft", "archived"):
            continue  # not for sale: Shopify hides it from shoppers
        if not group["titled"]:
            issues.add("missing required value (no row of this handle has a Title)", group["line"], "Title")
            continue
        record = _shopify_product(handle, group, issues)
        if record is not None:
            folded.append((group["line"], record))
    return folded


def _shopify_product(handle: str, group: dict[str, Any], issues: IssueCollector) -> dict[str, Any] | None:
    row = group["row"]
    names = {i: _cell(row, f"option{i} name") for i in (1, 2, 3)}
    variants = _Variants()
    for line, variant in group["variants"] or [(group["line"], row)]:
        variants.add_options({name: [value] for i, name in names.items()
                              if name and (value := _cell(variant, f"option{i} value"))
                              and not (name.lower() == "title" and value.lower() == "default title")})
        price_text = _cell(variant, "variant price")
        if price_text and not variants.add_price(price_text, price_text, line, "Variant Price", issues):
            return None
        quantity = _cell(variant, "variant inventory qty")
        if quantity and not variants.add_stock(quantity, line, "Variant Inventory Qty", issues):
            return None
    if not variants.prices:
        issues.add("missing required value (no variant of this product has a price)", group["line"], "Variant Price")
        return None
    category = _cell(row, "type") or _cell(row, "product category").split(">")[-1].strip()
    return {"id": handle, "title": _cell(row, "title"), "brand": _cell(row, "vendor"), "category": category,
            "price": min(variants.prices), "description": strip_html(row.get("body (html)")),
            "stock": variants.stock, "image": group["images"][0] if group["images"] else "",
            "url": f"/products/{handle}", "tags": _list(_cell(row, "tags")), "attributes": variants.attributes()}


# --- WooCommerce -------------------------------------------------------------------------------------------


def fold_woocommerce(records: list[Record], issues: IssueCollector) -> list[Record]:
    """One record per simple or variable product; variations add their attribute values, prices and stock."""
    rows = [(line, {str(k).strip().lower(): v for k, v in record.items()}) for line, record in records]
    parents: dict[str, dict[str, Any]] = {}
    order: list[dict[str, Any]] = []
    variations: list[tuple[int | None, dict[str, Any]]] = []
    for line, row in rows:
        kind = _cell(row, "type").split(",")[0].strip().lower()
        if kind == "variation":
            variations.append((line, row))
            continue
        if _cell(row, "published") in ("-1", "0"):
            continue  # a draft or private product: not shown to shoppers
        product = {"line": line, "row": row, "variants": []}
        order.append(product)
        for key in (f"id:{_cell(row, 'id')}" if _cell(row, "id") else "", _cell(row, "sku")):
            if key:
                parents.setdefault(key, product)
    for line, row in variations:
        parent_ref = _cell(row, "parent")
        parent = parents.get(parent_ref) or parents.get(f"id:{parent_ref}")
        if parent is None:
            if _cell(row, "published") not in ("-1", "0"):
                issues.add(f"variation's parent {parent_ref!r} is not a product in this file", line, "Parent")
            continue
        parent["variants"].append((line, row))
    folded: list[Record] = []
    for product in order:
        record = _woocommerce_product(product, issues)
        if record is not None:
            folded.append((product["line"], record))
    return folded


def _woocommerce_product(product: dict[str, Any], issues: IssueCollector) -> dict[str, Any] | None:
    row = product["row"]
    variants = _Variants()
    variants.add_options(_woo_attributes(row))
    for line, item in product["variants"] or [(product["line"], row)]:
        variants.add_options(_woo_attributes(item))
        if not _woo_read(item, line, variants, issues):
            return None
    if not variants.prices and product["variants"] and not _woo_read(row, product["line"], variants, issues,
                                                                      stock=False):
        return None  # a variable product priced on its own row
    if not variants.prices:
        issues.add("missing required value (no regular or sale price)", product["line"], "Regular price")
        return None
    brand = _cell(row, "brands").split(",")[0].strip()
    brand_options = [k for k in variants.options if k.lower() == "brand"]
    if not brand and brand_options:  # a "Brand" attribute stands in for the Brands column
        brand = (variants.options.pop(brand_options[0]) or [""])[0]
    images = _list(_cell(row, "images"))
    description = _cell(row, "description") or _cell(row, "short description")
    return {"id": _cell(row, "sku") or _cell(row, "id"), "title": _cell(row, "name"), "brand": brand,
            "category": _cell(row, "categories").split(",")[0].split(">")[-1].strip(),
            "price": min(variants.prices), "description": strip_html(description.replace("\\n", "\n")),
            "stock": variants.stock, "image": images[0] if images else "", "tags": _list(_cell(row, "tags")),
            "attributes": variants.attributes()}


def _woo_read(row: dict[str, Any], line: int | None, variants: _Variants, issues: IssueCollector,
              stock: bool = True) -> bool:
    """Add a row's price (sale price when lower) and stock; False when one is bad (reported)."""
    regular, sale = _cell(row, "regular price"), _cell(row, "sale price")
    for text, column in ((regular, "Regular price"), (sale, "Sale price")):
        if text and not variants.check_price(text, line, column, issues):
            return False
    if regular or sale:
        paid = min(parse_price(t).low for t in (regular, sale) if t)  # type: ignore[union-attr]
        variants.prices.append(paid)
        variants.regular.append(parse_price(regular or sale).low)  # type: ignore[union-attr]
    if not stock:
        return True
    quantity = _cell(row, "stock")
    if quantity:
        return variants.add_stock(quantity, line, "Stock", issues)
    if _cell(row, "in stock?") == "0":
        variants.stock = variants.stock or 0
    return True


def _woo_attributes(row: dict[str, Any]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for n in range(1, 50):
        name = _cell(row, f"attribute {n} name")
        if not name and f"attribute {n} name" not in row:
            break
        values = _cell(row, f"attribute {n} value(s)")
        if name and values:
            found[name] = [v.strip() for v in re.split(r"\s*[,|]\s*", values) if v.strip()]
    return found


# --- shared ------------------------------------------------------------------------------------------------


@dataclass
class _Variants:
    """What a product's variants add up to: option values, prices (paid and regular) and stock."""

    options: dict[str, list[str]] = field(default_factory=dict)
    prices: list[float] = field(default_factory=list)
    regular: list[float] = field(default_factory=list)
    stock: int | None = None

    def add_options(self, found: dict[str, list[str]]) -> None:
        for name, values in found.items():
            merged = self.options.setdefault(name, [])
            merged += [v for v in values if v not in merged]

    def check_price(self, text: str, line: int | None, column: str, issues: IssueCollector) -> bool:
        price = parse_price(text)
        if price is None or price.low < 0:
            issues.add(f"price must be a non-negative number, got {text!r}", line, column)
            return False
        return True

    def add_price(self, text: str, regular: str, line: int | None, column: str, issues: IssueCollector) -> bool:
        if not self.check_price(text, line, column, issues):
            return False
        self.prices.append(parse_price(text).low)  # type: ignore[union-attr]
        self.regular.append(parse_price(regular).low)  # type: ignore[union-attr]
        return True

    def add_stock(self, text: str, line: int | None, column: str, issues: IssueCollector) -> bool:
        count = _signed_int(text)
        if count is None:
            issues.add(f"stock must be a whole number, got {text!r}", line, column)
            return False
        self.stock = (self.stock or 0) + max(count, 0)
        return True

    def attributes(self) -> dict[str, Any]:
        """Options as attributes, plus `price_max` (variants priced differently) and `regular_price` (on sale)."""
        attributes = _option_attributes(self.options)
        if max(self.prices) > min(self.prices):
            attributes["price_max"] = max(self.prices)
        if min(self.regular) > min(self.prices):
            attributes["regular_price"] = min(self.regular)
        return attributes


def _list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _option_attributes(options: dict[str, list[str]]) -> dict[str, Any]:
    """Options as attributes: sizes and colours under `sizes` and `colors`, any other under its lower-case name."""
    attributes: dict[str, Any] = {}
    for name, values in options.items():
        key = name.strip().lower()
        target = "sizes" if key in SIZE_NAMES else "colors" if key in COLOR_NAMES else normalise(key) or key
        merged = attributes.setdefault(target, [])
        merged += [v for v in values if v not in merged]
    return attributes


def _cell(row: dict[str, Any], key: str) -> str:
    return clean_text(row.get(key))


def _signed_int(text: str) -> int | None:
    text = text.strip().replace(",", "")
    return int(text) if re.fullmatch(r"-?\d+", text) else None

