"""Terminal chat: type a question, watch the reply stream in, with its sources and product cards (like `rasa shell`)."""

from __future__ import annotations

import asyncio
import sys
from typing import Any, TextIO

import click

from bot.assistant import Assistant, Turn
from bot.responder.recommend import ProductCard

HELP = "Commands: /debug (toggle intent, sentiment and retrieval details), /help, /quit"


def format_cards(cards: list[ProductCard]) -> str:
    """Product cards as a fixed-width table."""
    rows = [("id", "product", "price", "rating", "why")]
    for card in cards:
        rows.append((card.id, card.title, f"{card.price:.2f} {card.currency}", f"{card.rating or 0:.1f}", card.reason))
    widths = [min(34, max(len(r[i]) for r in rows)) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell[:w].ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)


def debug_lines(turn: Turn, parse: dict[str, Any] | None) -> list[str]:
    """Intent ranking, sentiment, entities, and what the reply cited and dropped."""
    lines = []
    if parse is not None:
        ranking = ", ".join(f"{r['name']} {r['confidence']:.2f}" for r in parse["intent_ranking"][:3])
        lines.append(f"  · intent: {parse['intent']['name']} ({parse['intent']['confidence']:.2f}); ranking: {ranking}")
        lines.append(f"  · sentiment: {parse['sentiment']['label']} ({parse['sentiment']['score']:.2f})")
        if parse["entities"]:
            lines.append("  · entities: " + ", ".join(f"{e['entity']}={e['value']}" for e in parse["entities"]))
    reply = turn.stream.reply
    if reply is not None:
        timing = f"first chunk {reply.first_chunk_ms or 0:.0f} ms, whole {reply.total_ms:.0f} ms"
        lines.append(f"  · reply: {'fallback to source text' if reply.fallback else 'generated'}; {timing}")
        lines += [f"  · dropped: {d.sentence!r} (unsupported: {', '.join(d.unsupported) or 'low overlap'})"
                  for d in reply.dropped]
    return lines


async def _print_turn(turn: Turn, debug: bool) -> None:
    click.echo("bot> ", nl=False)
    async for chunk in turn.stream:
        click.echo(chunk, nl=False)
    click.echo()
    reply = turn.stream.reply
    if turn.cards:
        click.echo(format_cards(turn.cards))
    elif reply is not None and reply.sources:
        click.echo(f"  [source: {', '.join(reply.sources)}]")
    if debug:
        for line in debug_lines(turn, turn.parse):
            click.echo(line)


def run_chat(assistant: Assistant, store_name: str, stdin: TextIO | None = None) -> None:
    """Read messages until /quit or end of input; stream each reply with its sources or cards."""
    stdin = stdin or sys.stdin
    interactive = stdin.isatty()
    if interactive:
        try:
            import readline  # noqa: F401 - line editing and history for input()
        except ImportError:
            pass
    click.echo(f"{store_name} assistant. Ask about orders, shipping, returns, payments or products. {HELP}")
    debug = False
    loop = asyncio.new_event_loop()
    try:
        while True:
            try:
                text = input("you> ") if interactive else stdin.readline()
            except (EOFError, KeyboardInterrupt):
                break
            if not interactive and text == "":
                break
            text = text.strip()
            if not text:
                continue
            if text in ("/quit", "/exit"):
                break
            if text == "/help":
                click.echo(HELP)
                continue
            if text == "/debug":
                debug = not debug
                click.echo(f"debug {'on' if debug else 'off'}")
                continue
            if not interactive:
                click.echo(f"you> {text}")
            loop.run_until_complete(_print_turn(assistant.turn(text), debug))
    finally:
        loop.close()
    click.echo("bye")
