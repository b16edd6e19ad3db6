"""`shopbot init`: a store folder from a catalog export and an FAQ file.

The files are copied (or linked) into the folder, `store.yml` is written with the catalog's column mapping as
detected from its headers (Shopify's or WooCommerce's product export, else our fields matched by name), the store is
validated with the real loader, and what the folder lacks is listed with what the bot does without it.

>>> result = init_store(Path("/tmp/my-store"), Path("products_export.csv"), Path("faq.csv"))  # doctest: +SKIP
>>> print(describe(result))  # doctest: +SKIP
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from retrieval.loaders.catalog import PRODUCT_FIELDS
from retrieval.loaders.errors import DataError, DataIssue, format_issues
from retrieval.loaders.presets import (
    PRESETS,
    SHOPIFY_SIGNATURE,
    WOOCOMMERCE_SIGNATURE,
    detect_preset,
    guess_columns,
    headers_of,
)
from retrieval.loaders.records import read_records
from retrieval.loaders.store import KnowledgeBase, load_knowledge_base
from retrieval.loaders.values import parse_price

CATALOG_SUFFIXES = (".csv", ".json", ".jsonl")
FAQ_SUFFIXES = (".csv", ".yml", ".yaml", ".json")
PRESET_CHOICES = (*PRESETS, "auto")


class ScaffoldError(ValueError):
    """`shopbot init` cannot start: a missing input, an unsupported file type, a folder that already holds a store."""


@dataclass(frozen=True)
class Missing:
    """Something the new store does not have, and what the bot does without it."""

    what: str
    without: str


@dataclass
class InitResult:
    """What `init_store` wrote and found."""

    folder: Path
    preset: str | None
    columns: dict[str, str]
    currency: str
    headers: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    kb: KnowledgeBase | None = None
    problems: list[DataIssue] = field(default_factory=list)
    missing: list[Missing] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.kb is not None and not self.problems


def init_store(folder: Path, catalog: Path, faq: Path, policies: Path | None = None, preset: str = "auto",
               name: str | None = None, link: bool = False, skip_bad_rows: bool = False,
               force: bool = False) -> InitResult:
    """Create a store folder from the export files, write its `store.yml` and validate it."""
    folder, catalog, faq = Path(folder), Path(catalog), Path(faq)
    _check_inputs(folder, catalog, faq, policies, preset, force)
    detected, columns, currency = detect_mapping(catalog, preset)
    folder.mkdir(parents=True, exist_ok=True)
    files = [_place(catalog, folder / f"catalog{catalog.suffix.lower()}", link),
             _place(faq, folder / f"faq{faq.suffix.lower()}", link)]
    if policies is not None:
        files.append(_place(Path(policies), folder / "policies", link))
    store_yml = folder / "store.yml"
    store_yml.write_text(_store_yml(name or _title(folder), catalog, files, detected, columns, currency,
                                    skip_bad_rows), encoding="utf-8")
    files.append(store_yml)
    result = InitResult(folder, detected, columns, currency, _headers(catalog), files)
    try:
        result.kb = load_knowledge_base(folder, skip_bad_rows=skip_bad_rows)
    except DataError as exc:
        result.problems = exc.issues
    result.missing = missing_parts(folder, result.kb)
    return result


def detect_mapping(catalog: Path, preset: str = "auto") -> tuple[str | None, dict[str, str], str]:
    """(preset, columns, currency) for a catalog file: the platform its headers name, else our fields matched to
    its columns by name; the currency most of its prices show (USD when none do)."""
    records = read_records(catalog, list_keys=("products", "catalog", "items"), bad_rows=[])
    headers = headers_of(records)
    found = detect_preset(headers)
    if preset != "auto":
        signature = SHOPIFY_SIGNATURE if preset == "shopify" else WOOCOMMERCE_SIGNATURE
        lowered = {h.strip().lower() for h in headers}
        absent = [h for h in signature if h not in lowered]
        if absent:
            raise ScaffoldError(f"{catalog}: not a {preset} product export: no column "
                                + ", ".join(f"'{h}'" for h in absent) + " (try --preset auto)")
        found = preset
    columns = {} if found else guess_columns(records)
    price_column = {"shopify": "Variant Price", "woocommerce": "Regular price"}.get(found or "",
                                                                                   columns.get("price", "price"))
    currencies = Counter()
    for _, record in records[:500]:
        value = next((v for k, v in record.items() if k.strip().lower() == price_column.lower()), None)
        price = parse_price(value) if value not in (None, "") else None
        if price is not None and price.currency:
            currencies[price.currency] += 1
    return found, columns, currencies.most_common(1)[0][0] if currencies else "USD"


def missing_parts(folder: Path, kb: KnowledgeBase | None) -> list[Missing]:
    """What the store folder lacks, each with what the bot does without it."""
    from retrieval.finetune import FinetuneConfig, worth_tuning

    out: list[Missing] = []
    if not any((folder / n).exists() for n in ("nlu.yml", "nlu.yaml", "nlu")):
        out.append(Missing("nlu.yml", "the generic customer-service NLU (the demo's intents: greetings, thanks, "
                                      "handoff to a person, sentiment, orders, returns, shipping, products) "
                                      "recognises what shoppers want; it is trained once per machine and reused by "
                                      "every store without an nlu.yml; your store's own intents need an nlu.yml"))
    if not (folder / "domain.yml").is_file():
        out.append(Missing("domain.yml", "the demo's generic domain: its responses, forms and rules"))
    if not (folder / "orders.json").is_file():
        out.append(Missing("orders.json (or an order back-end)", "no order actions: the bot cannot look up, "
                                                                 "change or cancel orders"))
    if kb is not None and kb.faq and not worth_tuning(kb.faq, FinetuneConfig()):
        out.append(Missing("FAQ alternates (other ways shoppers ask each question)",
                           "the untuned embedder finds the answers; `finetune: {generate_questions: true}` in "
                           "shopbot.yml (or SHOPBOT_FINETUNE__GENERATE_QUESTIONS=true) writes shopper questions for "
                           "each entry and tunes on them once (about 4 minutes for 118 entries on 2 cores; the demo "
                           "FAQ without its alternates: hit@1 0.67 -> 0.74)"))
    if kb is None or not kb.policies:
        out.append(Missing("policies/", "FAQ-only answers: questions the FAQ does not cover get no policy text"))
    if not any((folder / n).is_file() for n in ("history.csv", "history.jsonl")):
        out.append(Missing("history.csv", "no personal recommendations: similar and popular products only"))
    if not (folder / "categories.yml").is_file():
        out.append(Missing("categories.yml", "categories come from the catalog, without 'goes with' pairings"))
    return out


def describe(result: InitResult) -> str:
    """What `shopbot init` prints: the files, the mapping, the validation, what is missing, and what to run."""
    lines = [f"Store folder: {result.folder}"]
    lines += [f"  wrote {path.name}" + (f" -> {os.readlink(path)}" if path.is_symlink() else "")
              for path in result.files]
    if result.preset:
        lines.append(f"Catalog: {result.preset} product export (variants folded into one product each)")
    elif result.columns:
        lines.append("Catalog columns matched by name: "
                     + ", ".join(f"{k} <- '{v}'" for k, v in result.columns.items()))
    else:
        lines.append("Catalog: columns already named as shopbot names them")
    if not result.preset:
        named = set(result.columns) | {h.strip().lower() for h in result.headers}
        if "id" not in named:
            lines.append("  no id column: each product's id is made from its title (the same on every run)")
        absent = [f for f in ("title", "price", "brand", "category", "description", "image", "rating")
                  if f not in named]
        if absent:
            lines.append(f"  not found in the export: {', '.join(absent)} (if your export has them under other "
                         "names, add them to sources.catalog.columns in store.yml)")
    lines.append(f"Currency: {result.currency}")
    if result.kb is not None and not result.problems:
        kb = result.kb
        lines.append(f"Validation: OK - {len(kb.products)} products in {len(kb.categories)} categories, "
                     f"{len(kb.faq)} FAQ entries, {len(kb.policies)} policy sections")
        report = kb.load_report.describe()
        if report:
            lines.append(report)
    else:
        lines.append(f"Validation: {len(result.problems)} problem(s):")
        lines.append(format_issues(result.problems))
        lines.append("Fix them, or pass --skip-bad-rows to load the good rows and list the bad ones.")
    if result.missing:
        lines.append("Missing (and what the bot does without it):")
        lines += [f"  - {m.what}: {m.without}" for m in result.missing]
    folder = result.folder
    lines.append("Next: shopbot validate --kb {0}; shopbot serve --kb {0} (or: make run KB={0})".format(folder))
    return "\n".join(lines)


def _headers(catalog: Path) -> list[str]:
    return headers_of(read_records(catalog, list_keys=("products", "catalog", "items"), bad_rows=[]))


def _check_inputs(folder: Path, catalog: Path, faq: Path, policies: Path | None, preset: str, force: bool) -> None:
    if preset not in PRESET_CHOICES:
        raise ScaffoldError(f"unknown preset '{preset}' (known: {', '.join(PRESET_CHOICES)})")
    for path, kinds, what in ((catalog, CATALOG_SUFFIXES, "catalog"), (faq, FAQ_SUFFIXES, "FAQ")):
        if not path.is_file():
            raise ScaffoldError(f"{path}: {what} file not found")
        if path.suffix.lower() not in kinds:
            raise ScaffoldError(f"{path}: unsupported {what} file type '{path.suffix}' (use {', '.join(kinds)})")
    if policies is not None and not Path(policies).is_dir():
        raise ScaffoldError(f"{policies}: policies folder not found")
    if folder.exists() and not folder.is_dir():
        raise ScaffoldError(f"{folder}: exists and is not a folder")
    _clear_old_store(folder, [catalog, faq, *(() if policies is None else (Path(policies),))], force)


def _clear_old_store(folder: Path, inputs: list[Path], force: bool) -> None:
    """Refuse a folder that holds a store, or (--force) remove that store's files, never the input files."""
    taken = [p.name for p in (folder / n for n in ("store.yml", "catalog.csv", "catalog.json", "catalog.jsonl",
                                                   "faq.csv", "faq.yml", "faq.yaml", "faq.json", "policies"))
             if p.exists() or p.is_symlink()]
    if taken and not force:
        raise ScaffoldError(f"{folder}: already holds a store ({', '.join(taken)}); use --force to replace it")
    sources = [p.resolve() for p in inputs]
    for name in taken:  # --force replaces the old store's files, never the files it is given
        old = (folder / name).resolve()
        if not (folder / name).is_symlink() and any(old == s or old in s.parents for s in sources):
            raise ScaffoldError(f"{folder / name}: is one of the input files; choose another folder")
    for name in taken:
        _remove(folder / name)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def _place(source: Path, target: Path, link: bool) -> Path:
    """Copy `source` to `target` (a folder with its files), or link it there."""
    if source.resolve() == target.resolve():
        return target
    if link:
        target.symlink_to(source.resolve(), target_is_directory=source.is_dir())
    elif source.is_dir():
        shutil.copytree(source, target)
    else:
        shutil.copyfile(source, target)
    return target


def _store_yml(name: str, catalog: Path, files: list[Path], preset: str | None, columns: dict[str, str],
               currency: str, skip_bad_rows: bool) -> str:
    spec: dict[str, Any] = {"path": files[0].name}
    if preset:
        spec["preset"] = preset
    elif columns:
        spec["columns"] = {k: columns[k] for k in PRODUCT_FIELDS if k in columns}
    else:
        spec["preset"] = "auto"
    spec["currency"] = currency
    sources: dict[str, Any] = {"catalog": spec, "faq": files[1].name}
    if len(files) > 2:
        sources["policies"] = files[2].name
    data = {"name": name, "currency": currency, "skip_bad_rows": skip_bad_rows, "sources": sources}
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    header = (f"# Written by `shopbot init` on {stamp} from {catalog.name}; edit freely.\n"
              "# sources.catalog: `preset` (shopify, woocommerce, auto) or `columns` (our field: your column);\n"
              "# `ids: never` refuses rows without an id instead of making one from the title.\n"
              "# skip_bad_rows: true loads the good rows and lists each bad one (file, line, field).\n")
    return header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def _title(folder: Path) -> str:
    words = folder.resolve().name.replace("_", " ").replace("-", " ").split()
    return " ".join(w.capitalize() for w in words) or "My Store"
