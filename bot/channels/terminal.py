"""Terminal chat: type a question, read the answer and its source (like `rasa shell`)."""

from __future__ import annotations

import sys
from typing import Any, TextIO

import click

from bot.faq_answerer import Answer, FaqAnswerer
from bot.nlu.parser import NluParser
from retrieval.products import ProductHit

HELP = "Commands: /debug (toggle ranking details), /help, /quit"


def format_products(hits: list[ProductHit]) -> str:
    """Product cards as a fixed-width table."""
    rows = [("id", "product", "brand", "price", "rating", "stock", "why")]
    for hit in hits:
        p = hit.product
        stock = "out" if not p.in_stock else ("yes" if p.stock is None else str(p.stock))
        rows.append((p.id, p.title, p.brand, f"{p.price:.2f} {p.currency}", f"{p.rating or 0:.1f}", stock, hit.reason))
    widths = [min(34, max(len(r[i]) for r in rows)) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell[:w].ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)


def render(answer: Answer, debug: bool = False, parse: dict[str, Any] | None = None) -> str:
    lines = [answer.text]
    if answer.products:
        lines.append(format_products(answer.products))
    elif answer.sources:
        lines.append(f"  [source: {', '.join(answer.sources)}]")
    if debug and parse is not None:
        ranking = ", ".join(f"{r['name']} {r['confidence']:.2f}" for r in parse["intent_ranking"][:3])
        lines.append(f"  · intent: {parse['intent']['name']} ({parse['intent']['confidence']:.2f}); ranking: {ranking}")
        lines.append(f"  · sentiment: {parse['sentiment']['label']} ({parse['sentiment']['score']:.2f})")
        if parse["entities"]:
            lines.append("  · entities: " + ", ".join(f"{e['entity']}={e['value']}" for e in parse["entities"]))
    if debug:
        for hit in answer.hits:
            similarity = f"{hit.similarity:.3f}" if hit.similarity is not None else "  -  "
            lines.append(f"  · {hit.id:<40} fused={hit.score:.4f} cos={similarity} "
                         f"dense#{hit.dense_rank or '-'} bm25#{hit.keyword_rank or '-'}")
    return "\n".join(lines)


def run_chat(answerer: FaqAnswerer, store_name: str, stdin: TextIO | None = None, parser: NluParser | None = None) -> None:
    """Read questions until /quit or end of input; print each answer with its source."""
    stdin = stdin or sys.stdin
    interactive = stdin.isatty()
    if interactive:
        try:
            import readline  # noqa: F401 - line editing and history for input()
        except ImportError:
            pass
    click.echo(f"{store_name} assistant. Ask about orders, shipping, returns, payments or products. {HELP}")
    debug = False
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
        parse = parser.parse(text) if parser is not None and debug else None
        click.echo("bot> " + render(answerer.answer(text), debug, parse))
    click.echo("bye")
