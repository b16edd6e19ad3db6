"""`shopbot write descriptions|campaign`: drafts for the store owner, written to files and never sent anywhere."""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

kb_option = click.option("--kb", type=click.Path(path_type=Path, file_okay=False), default=None,
                         help="Knowledge-base folder (default: the demo store).")
lm_option = click.option("--lm/--no-lm", "use_lm", default=True, show_default=True,
                         help="Let the LM write candidates (--no-lm: the fact templates alone, in milliseconds).")
candidates_option = click.option("--candidates", type=click.IntRange(1, 6), default=2, show_default=True,
                                 help="LM candidates per sentence (each from other worked examples).")


def _kb(ctx: click.Context, kb: Path | None) -> tuple[Any, Any]:
    from bot.cli import UserError, _settings
    from retrieval.loaders import DataError, load_knowledge_base

    settings = _settings(ctx, kb)
    try:
        return settings, load_knowledge_base(settings.kb_dir)
    except DataError as exc:
        raise UserError(str(exc)) from None


def _generator(settings: Any, use_lm: bool) -> Any:
    """The project's generation backend with the base LM (the reply adapter is tuned for answers, not copy)."""
    if not use_lm:
        return None
    from bot.cli import UserError
    from bot.generation.factory import open_generator
    from retrieval.device import resolve_device

    started = time.perf_counter()
    try:
        generator = open_generator(settings.responder, resolve_device(settings.device), settings.cache_dir)
    except RuntimeError as exc:
        raise UserError(str(exc)) from None
    click.echo(f"LM: {generator.model} on {generator.name} ({generator.device}), "
               f"{time.perf_counter() - started:.1f}s", err=True)
    return generator


@click.group(name="write")
def write_group() -> None:
    """Drafts for the owner to review: product descriptions and campaign messages, every sentence traced."""


@write_group.command(name="descriptions")
@kb_option
@click.option("--products", "ids", default=None, help="Comma-separated product ids (default: every product).")
@click.option("--missing", is_flag=True, help="Only products whose description is empty or short.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), default=Path("drafts/descriptions"),
              show_default=True, help="Folder for the drafts (one file per product).")
@click.option("--format", "fmt", type=click.Choice(["md", "json"]), default="md", show_default=True)
@lm_option
@candidates_option
@click.pass_context
def descriptions_command(ctx: click.Context, kb: Path | None, ids: str | None, missing: bool, out_dir: Path,
                         fmt: str, use_lm: bool, candidates: int) -> None:
    """Write a description draft per product: each sentence with the facts it comes from, and the sentences
    dropped (and why)."""
    from bot.cli import UserError
    from bot.writing.descriptions import DescriptionWriter, select_products, write_draft

    if ids and missing:
        raise UserError("--products and --missing choose products two ways: give one")
    settings, store = _kb(ctx, kb)
    try:
        products = select_products(store, ids.split(",") if ids else None, missing)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if not products:
        click.echo("No product needs a description (none is empty or short).")
        return
    writer = DescriptionWriter(store, _generator(settings, use_lm), candidates)

    async def run() -> list[Any]:
        drafts = []
        for i, product in enumerate(products, start=1):
            draft = await writer.write(product)
            path = write_draft(draft, out_dir, fmt)
            drafts.append(draft)
            if sys.stderr.isatty() or len(products) <= 20:
                click.echo(f"[{i}/{len(products)}] {product.id} {product.title}: {len(draft.sentences)} sentences, "
                           f"{len(draft.dropped)} dropped, {draft.seconds:.1f}s -> {path}", err=True)
        return drafts

    drafts = asyncio.run(run())
    dropped = sum(len(d.dropped) for d in drafts)
    shares = [d.coverage["share"] for d in drafts]
    click.echo(f"{len(drafts)} drafts in {out_dir}: {dropped} unsupported sentences dropped and listed; attributes "
               f"mentioned {sum(shares) / len(shares):.1%} on average; "
               f"{sum(d.seconds for d in drafts) / len(drafts):.2f}s per product")


@write_group.command(name="campaign")
@kb_option
@click.option("--segment", required=True, help='Who it is for, e.g. "bought a tent in the last 90 days".')
@click.option("--product", "product_ids", default=None, help="The product(s) it is about (comma-separated ids).")
@click.option("--as-of", "as_of", default=None, help="The date a window such as 'the last 90 days' ends (default: now).")
@click.option("--out", "out_file", type=click.Path(path_type=Path, dir_okay=False), default=Path("drafts/campaign.md"),
              show_default=True, help="The draft's file (.json for JSON, else Markdown).")
@lm_option
@candidates_option
@click.pass_context
def campaign_command(ctx: click.Context, kb: Path | None, segment: str, product_ids: str | None, as_of: str | None,
                     out_file: Path, use_lm: bool, candidates: int) -> None:
    """Draft a campaign message for a segment of customers: how many match (never who), a subject and a short
    message about the product(s) from the facts only."""
    from actions.order_records import read_orders
    from actions.services import orders_file
    from bot.cli import UserError
    from bot.writing.campaign import CampaignWriter, SegmentError

    settings, store = _kb(ctx, kb)
    moment = None
    if as_of:
        try:
            moment = datetime.fromisoformat(as_of)
        except ValueError:
            raise UserError(f"--as-of: not an ISO date: {as_of!r} (e.g. 2026-11-23)") from None
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    path = orders_file(settings.kb_dir)
    orders = read_orders(path)[0] if path is not None else []
    writer = CampaignWriter(store, orders, _generator(settings, use_lm), candidates)
    try:
        draft = asyncio.run(writer.write(segment, product_ids.split(",") if product_ids else None, moment))
    except SegmentError as exc:
        raise UserError(str(exc)) from None
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_text(draft.to_json() if out_file.suffix == ".json" else draft.to_markdown(), encoding="utf-8")
    click.echo(f"{draft.audience.total} matching customers ({draft.segment.describe()}); "
               f"{len(draft.body)} sentences, {len(draft.dropped)} dropped -> {out_file}")
