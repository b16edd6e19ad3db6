"""Load a whole store (catalog, FAQ, policies, categories, shopping history) from a knowledge-base folder.

A folder holds any of `catalog.{jsonl,json,csv}`, `faq.{csv,yml,yaml,json}`, `policies/` and
`categories.yml`, an optional `history.{csv,jsonl}` (shoppers' views, clicks, carts and purchases), an optional
`reviews.{jsonl,csv}` (product reviews), plus an optional `store.yml` whose `sources:` section points elsewhere::

    name: My Store
    sources:
      catalog: {path: exports/products.csv, columns: {id: sku, title: name, price: price_usd}}
      faq: help/faq.yml
      policies: legal/
      history: exports/events.csv
      reviews: exports/reviews.jsonl
"""

from __future__ import annotations

from collections import Counter

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from retrieval.documents import FaqEntry, Passage, PassageKind, PolicySection, Product, faq_passage, policy_passage, product_passage
from retrieval.loaders.catalog import CatalogMapping, load_catalog
from retrieval.loaders.errors import DataError, DataIssue, LoadReport
from retrieval.loaders.faq import load_faq
from retrieval.loaders.history import HistoryEvent, load_history
from retrieval.loaders.policies import load_policies
from retrieval.loaders.records import load_yaml_with_lines, strip_line_markers
from retrieval.loaders.reviews import Review, load_reviews

CATALOG_NAMES = ("catalog.jsonl", "catalog.json", "catalog.csv")
FAQ_NAMES = ("faq.csv", "faq.yml", "faq.yaml", "faq.json")
HISTORY_NAMES = ("history.csv", "history.jsonl")
REVIEWS_NAMES = ("reviews.jsonl", "reviews.csv")


@dataclass(frozen=True)
class Category:
    """A catalog category and the categories whose products complement it ("goes with")."""

    name: str
    description: str = ""
    goes_with: tuple[str, ...] = ()


@dataclass
class KnowledgeBase:
    """Everything the store knows, loaded and validated."""

    root: Path
    name: str
    products: list[Product] = field(default_factory=list)
    faq: list[FaqEntry] = field(default_factory=list)
    policies: list[PolicySection] = field(default_factory=list)
    categories: dict[str, Category] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    history: list[HistoryEvent] = field(default_factory=list, repr=False)  # by shopper, then time; may be empty
    reviews: list[Review] = field(default_factory=list, repr=False)  # in file order; empty when the store has none
    load_report: LoadReport = field(default_factory=LoadReport, repr=False)  # rows skipped (skip_bad_rows), ids made

    def passages(self, kinds: tuple[PassageKind, ...] | None = None) -> list[Passage]:
        """All retrievable passages, FAQ first, then policies, then products."""
        out: list[Passage] = []
        if kinds is None or "faq" in kinds:
            out += [faq_passage(e) for e in self.faq]
        if kinds is None or "policy" in kinds:
            out += [policy_passage(s) for s in self.policies]
        if kinds is None or "product" in kinds:
            out += [product_passage(p) for p in self.products]
        return out

    def product(self, product_id: str) -> Product | None:
        """The product with this id, if the catalog has it."""
        return self._products_by_id.get(product_id)

    @cached_property
    def currency(self) -> str:
        """The store's currency: `currency` in store.yml, else its products' most common one, else USD."""
        stated = str(self.facts.get("currency") or "").strip().upper()
        if stated:
            return stated
        counts = Counter(p.currency for p in self.products if p.currency)
        return counts.most_common(1)[0][0] if counts else "USD"

    @cached_property
    def _products_by_id(self) -> dict[str, Product]:
        return {p.id: p for p in self.products}

    def reviews_for(self, product_id: str) -> list[Review]:
        """The reviews of one product, in file order (empty when it has none)."""
        return list(self._reviews_by_product.get(product_id, ()))

    @cached_property
    def _reviews_by_product(self) -> dict[str, list[Review]]:
        grouped: dict[str, list[Review]] = {}
        for review in self.reviews:
            grouped.setdefault(review.product_id, []).append(review)
        return grouped


def load_knowledge_base(root: Path, skip_bad_rows: bool | None = None) -> KnowledgeBase:
    """Load and validate a store folder; raises `DataError` listing every problem, and loads nothing then.

    With `skip_bad_rows` (default: `skip_bad_rows: true` in store.yml), bad catalog and FAQ rows are left out
    and listed in `KnowledgeBase.load_report` instead; problems with a file as a whole still raise."""
    root = Path(root)
    if not root.is_dir():
        raise DataError([DataIssue(str(root), "knowledge-base folder not found")])
    facts = _load_facts(root / "store.yml")
    sources = strip_line_markers(facts.get("sources")) or {}
    if not isinstance(sources, dict):
        raise DataError([DataIssue(str(root / "store.yml"), "'sources' must be a mapping", None, "sources")])
    if skip_bad_rows is None:
        skip_bad_rows = bool(facts.get("skip_bad_rows"))
    report = LoadReport(skip_rows=skip_bad_rows)

    problems: list[DataIssue] = []
    products: list[Product] = []
    faq: list[FaqEntry] = []
    policies: list[PolicySection] = []
    categories: dict[str, Category] = {}
    catalog_spec = sources.get("catalog")
    catalog_path = _source_path(root, catalog_spec, CATALOG_NAMES)
    if catalog_path is not None:
        mapping = CatalogMapping.from_config(catalog_spec if isinstance(catalog_spec, dict) else None)
        products = _collect(problems, load_catalog, catalog_path, mapping, report) or []
    catalog_ok = not problems
    faq_path = _source_path(root, sources.get("faq"), FAQ_NAMES)
    if faq_path is not None:
        faq = _collect(problems, load_faq, faq_path, report) or []
    policies_path = _source_path(root, sources.get("policies"), ("policies",))
    if policies_path is not None:
        policies = _collect(problems, load_policies, policies_path) or []
    known = {p.id for p in products} if catalog_ok else None  # a broken catalog is reported on its own

    def about_products(spec: Any, names: tuple[str, ...], loader: Any, no_catalog: str) -> list[Any]:
        """A file of rows naming catalog products (history, reviews): loaded against the catalog's ids."""
        path = _source_path(root, spec, names)
        if path is not None and catalog_path is None:
            problems.append(DataIssue(str(path), no_catalog))
        elif path is not None:
            return _collect(problems, loader, path, known) or []
        return []

    history: list[HistoryEvent] = about_products(sources.get("history"), HISTORY_NAMES, load_history,
                                                 "a shopping history needs a catalog (its product ids)")
    reviews: list[Review] = about_products(sources.get("reviews"), REVIEWS_NAMES, load_reviews,
                                           "reviews need a catalog (their product ids)")
    categories_path = root / "categories.yml"
    if categories_path.is_file():
        categories = _collect(problems, _load_categories, categories_path) or {}
    if problems:
        raise DataError(problems)
    if not (products or faq or policies):
        raise DataError([DataIssue(str(root), "no catalog, FAQ or policies found "
                                              f"(looked for {', '.join(CATALOG_NAMES + FAQ_NAMES)}, policies/)")])
    for product in products:  # categories named only in the catalog still exist, with no complements
        categories.setdefault(product.category, Category(product.category))
    return KnowledgeBase(root=root, name=str(facts.get("name") or root.name), products=products, faq=faq,
                         policies=policies, categories=categories, facts=strip_line_markers(facts), history=history,
                         reviews=reviews, load_report=report)


def _collect(problems: list[DataIssue], loader: Any, *args: Any) -> Any:
    try:
        return loader(*args)
    except DataError as exc:
        problems.extend(exc.issues)
        return None


def _source_path(root: Path, spec: Any, defaults: tuple[str, ...]) -> Path | None:
    if isinstance(spec, dict):
        spec = spec.get("path")
    if spec:
        return (root / str(spec)).resolve() if not Path(str(spec)).is_absolute() else Path(str(spec))
    return next((root / name for name in defaults if (root / name).exists()), None)


def _load_facts(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    data = load_yaml_with_lines(path)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise DataError([DataIssue(str(path), "store.yml must be a mapping", 1)])
    return data


def _load_categories(path: Path) -> dict[str, Category]:
    data = load_yaml_with_lines(path)
    items = data.get("categories") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise DataError([DataIssue(str(path), "expected a list of categories (or a mapping with 'categories')", 1)])
    problems: list[DataIssue] = []
    categories: dict[str, Category] = {}
    for item in items:
        line = item.get("__line__") if isinstance(item, dict) else None
        if not isinstance(item, dict) or not str(item.get("name") or "").strip():
            problems.append(DataIssue(str(path), "missing required value", line, "name"))
            continue
        goes_with = item.get("goes_with") or []
        if not isinstance(goes_with, list):
            problems.append(DataIssue(str(path), "goes_with must be a list of category names", line, "goes_with"))
            continue
        name = str(item["name"]).strip()
        categories[name] = Category(name, str(item.get("description") or ""), tuple(str(g) for g in goes_with))
    for category in categories.values():
        for other in category.goes_with:
            if other not in categories:
                problems.append(DataIssue(str(path), f"'{category.name}' goes_with unknown category '{other}'", None, "goes_with"))
    if problems:
        raise DataError(problems)
    return categories
