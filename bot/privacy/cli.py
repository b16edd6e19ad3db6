"""`shopbot privacy export|erase|purge`: a shopper's data by email, and retention run once."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import click
from sqlalchemy.exc import SQLAlchemyError

from bot.config import DEMO_KB, Settings


def _context(ctx: click.Context) -> tuple[Settings, Any]:
    """The settings and the conversation store they name (the same database `shopbot serve` writes)."""
    from bot.cli import UserError, _settings
    from bot.dialogue.store import ConversationStore

    settings = _settings(ctx)
    try:
        return settings, ConversationStore(settings.dialogue.database or settings.data_dir / "conversations.db")
    except SQLAlchemyError as exc:
        raise UserError(f"cannot open the conversation store: {exc.__class__.__name__}: {exc.orig or exc}") from None


def _locks(settings: Settings) -> Any:
    """Redis conversation locks when the servers use them (so a turn in flight finishes first), else local ones."""
    from bot.dialogue.locks import LocalLocks, RedisLocks

    return RedisLocks(settings.dialogue.redis_url) if settings.dialogue.redis_url else LocalLocks()


def _records(settings: Settings) -> list[Any]:
    """The other records kept by email: the verification ledger the identity checks use with these settings."""
    from actions.services import open_ledger
    from bot.privacy.ledger import LedgerRecords

    return [LedgerRecords(open_ledger(settings.data_dir, settings.dialogue.redis_url, settings.guard.database))]


def _email(email: str) -> str:
    from bot.cli import UserError
    from bot.privacy.shopper import email_pattern

    try:
        email_pattern(email)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    return email.strip()


def _summary(counts: dict[str, int]) -> str:
    return ", ".join(f"{value} {key.replace('_', ' ')}" for key, value in counts.items())


@click.group(name="privacy")
def privacy_group() -> None:
    """What the store keeps about a shopper: export it, erase it, and apply retention."""


@privacy_group.command(name="export")
@click.option("--email", required=True, help="The shopper's email address.")
@click.option("--json", "json_out", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Write the export here (default: print it).")
@click.pass_context
def export_command(ctx: click.Context, email: str, json_out: Path | None) -> None:
    """Every conversation (with its events and verified orders) and log line naming the shopper, as JSON."""
    from bot.privacy.shopper import collect

    settings, store = _context(ctx)
    try:
        data = collect(store, _email(email), settings.logging.file, _records(settings))
    finally:
        store.close()
    text = json.dumps(data.to_json(), ensure_ascii=False, indent=2)
    if json_out is None:
        click.echo(text)
        return
    json_out.parent.mkdir(parents=True, exist_ok=True)
    json_out.write_text(text + "\n", encoding="utf-8")
    click.echo(f"Exported {_summary(data.counts())} to {json_out}", err=True)


@privacy_group.command(name="erase")
@click.option("--email", required=True, help="The shopper's email address.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def erase_command(ctx: click.Context, email: str, yes: bool) -> None:
    """Delete every conversation, event and log line naming the shopper."""
    from bot.privacy.shopper import collect, erase_shopper

    settings, store = _context(ctx)
    email = _email(email)
    try:
        records = _records(settings)
        found = collect(store, email, settings.logging.file, records).counts()
        if not any(found.values()):
            click.echo(f"Nothing kept names {email}.")
            return
        if not yes:
            click.confirm(f"Erase {_summary(found)} naming {email}?", abort=True)
        locks = _locks(settings)

        async def erase() -> dict[str, int]:
            try:
                return await erase_shopper(store, email, locks, settings.logging.file, records)
            finally:
                await locks.close()

        counts = asyncio.run(erase())
    finally:
        store.close()
    click.echo(f"Erased {_summary(counts)}.")


@privacy_group.command(name="purge")
@click.pass_context
def purge_command(ctx: click.Context) -> None:
    """Apply retention once: delete conversations idle past `privacy.retention_days`, and those kept without the
    consent `privacy.consent` asks for once their session has expired."""
    from bot.dialogue.domain import load_domain
    from bot.privacy.retention import needed, purge

    settings, store = _context(ctx)
    if not needed(settings.privacy):
        store.close()
        click.echo("Nothing to purge: privacy.retention_days is 0 (keep) and no consent is asked for.")
        return
    domain = settings.dialogue.domain or (settings.kb_dir / "domain.yml")
    minutes = load_domain(domain if domain.is_file() else DEMO_KB / "domain.yml").session_config.session_expiration_time
    locks = _locks(settings)

    async def run() -> dict[str, int]:
        try:
            return await purge(store, settings.privacy, minutes, locks, settings.logging.file)
        finally:
            await locks.close()

    try:
        counts = asyncio.run(run())
    finally:
        store.close()
    click.echo(f"Purged {_summary(counts)}.")
