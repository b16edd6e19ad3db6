"""`shopbot report [--since DATE] [--until DATE] [--json OUT]`: the owner's analytics in the terminal."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click


@click.command(name="report")
@click.option("--kb", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Knowledge-base folder (default: the demo store): its index hints at the nearest source.")
@click.option("--since", default=None, help="Only chats that started on or after this UTC date (2026-11-01) or "
                                            "ISO date and time.")
@click.option("--until", default=None, help="Only chats that started before this date or date and time.")
@click.option("--json", "json_out", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Also write the whole report (figures and question groups) as JSON here.")
@click.option("--no-clusters", is_flag=True, help="Skip grouping the unanswered questions (no models loaded).")
@click.pass_context
def report_command(ctx: click.Context, kb: Path | None, since: str | None, until: str | None,
                   json_out: Path | None, no_clusters: bool) -> None:
    """Conversations, resolution rate, handoffs and why, fallbacks, CSAT, intents over time and the unanswered
    questions grouped by meaning, from the conversation store `shopbot serve` writes."""
    from sqlalchemy.exc import SQLAlchemyError

    from bot.analytics.clusters import index_embed, index_nearest
    from bot.analytics.report import build_report, parse_when, render_text
    from bot.cli import UserError, _open, _settings
    from bot.dialogue.errors import StateUnavailable, StoreRefused
    from bot.dialogue.store import ConversationStore, database_url

    settings = _settings(ctx, kb)
    try:
        start = parse_when(since, "--since") if since else None
        end = parse_when(until, "--until") if until else None
    except ValueError as exc:
        raise UserError(str(exc)) from None
    location = settings.dialogue.database or settings.data_dir / "conversations.db"
    url = database_url(location)
    if url.startswith("sqlite:///") and ":memory:" not in url and not Path(url[len("sqlite:///"):]).is_file():
        raise UserError(f"no conversation store at {location}: `shopbot serve` creates it with the first chat")
    try:
        store = ConversationStore(location)
    except (SQLAlchemyError, StoreRefused, StateUnavailable) as exc:
        raise UserError(f"cannot open the conversation store {location}: {exc}") from None
    embed = nearest = None
    if not no_clusters:
        knowledge = _open(settings)
        embed, nearest = index_embed(knowledge.index), index_nearest(knowledge.index)
    started = time.perf_counter()
    try:
        report = build_report(store, start, end, embed, nearest, with_charts=False)
    except StateUnavailable as exc:
        raise UserError(str(exc)) from None
    finally:
        store.close()
    click.echo(render_text(report))
    click.echo(f"(built in {time.perf_counter() - started:.2f} s)", err=True)
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        click.echo(f"wrote {json_out}", err=True)
