"""Terminal chat (like `rasa shell`): type a message, watch the reply stream in, with sources, cards and buttons.

Drives the same `Engine.handle()` as every other channel; `/debug` shows intent, sentiment, entities and slots.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from typing import Any, TextIO

import aiohttp
import click

from bot.engine import Engine
from bot.messages import Inbound, Outbound

HELP = "Commands: /debug (intent, sentiment, entities, slots), /restart, /help, /quit. Type a button's number to press it."


def format_cards(cards: list[dict[str, Any]]) -> str:
    """Product cards as a fixed-width table."""
    rows = [("id", "product", "price", "rating", "why")]
    for card in cards:
        rows.append((str(card["id"]), str(card["title"]), f"{card['price']:.2f} {card.get('currency', '')}".strip(),
                     f"{card.get('rating') or 0:.1f}", str(card.get("reason") or "")))
    widths = [min(34, max(len(r[i]) for r in rows)) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell[:w].ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)


def debug_lines(tracker: Any) -> list[str]:
    """What the engine understood of the last message, and the slots it holds."""
    user = next((e for e in reversed(tracker.events) if e["event"] == "user"), None)
    parse = (user or {}).get("parse_data") or {}
    lines = []
    if parse.get("intent", {}).get("name"):
        ranking = ", ".join(f"{r['name']} {r['confidence']:.2f}" for r in parse.get("intent_ranking", [])[:3])
        lines.append(f"  · intent: {parse['intent']['name']} ({parse['intent']['confidence']:.2f}); ranking: {ranking}")
    if parse.get("sentiment"):
        lines.append(f"  · sentiment: {parse['sentiment']['label']} ({parse['sentiment']['score']:.2f})")
    if parse.get("entities"):
        lines.append("  · entities: " + ", ".join(f"{e['entity']}={e['value']}" for e in parse["entities"]))
    slots = {k: v for k, v in tracker.slots.items() if v not in (None, 0, 0.0, False) and k != "product_state"}
    lines.append(f"  · slots: {slots}; form: {tracker.active_loop or '-'}; paused: {tracker.paused}")
    return lines


class LocalChat:
    """The engine in this process."""

    def __init__(self, engine: Engine, sender: str):
        self.engine = engine
        self.inbound = lambda text: Inbound(sender, text, "terminal")
        self.conversation = Inbound(sender, "", "terminal").conversation_id

    def send(self, text: str) -> AsyncIterator[Outbound]:
        return self.engine.handle(self.inbound(text))

    async def debug(self) -> list[str]:
        return debug_lines(await self.engine.tracker(self.conversation))

    async def close(self) -> None:
        await self.engine.close()


class RemoteChat:
    """A running `shopbot serve`, over its /ws protocol (like `rasa shell` against a server)."""

    def __init__(self, url: str, token: str = "", session_id: str = ""):
        base = url.rstrip("/")
        query = "&".join(f"{k}={v}" for k, v in (("session_id", session_id), ("token", token)) if v)
        self.url = base.replace("http://", "ws://").replace("https://", "wss://") + "/ws" + (f"?{query}" if query else "")
        self._http: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self.session_id = session_id

    async def _connect(self) -> aiohttp.ClientWebSocketResponse:
        if self._ws is None or self._ws.closed:
            self._http = self._http or aiohttp.ClientSession()
            self._ws = await self._http.ws_connect(self.url)
            while True:
                frame = await self._ws.receive_json()
                if frame["type"] == "session":
                    self.session_id = frame["session_id"]
                    if not frame.get("resumed"):
                        break
                elif frame["type"] == "history":
                    break
        return self._ws

    async def send(self, text: str) -> AsyncIterator[Outbound]:
        """The turn's events; after its first complete message, frames arriving within 0.4 s belong to it too."""
        ws = await self._connect()
        await ws.send_json({"type": "message", "text": text})
        timeout = 300.0
        while True:
            try:
                frame = await ws.receive_json(timeout=timeout)
            except asyncio.TimeoutError:
                return
            if frame["type"] == "error":
                yield Outbound("error", frame.get("detail", ""), code=frame.get("code", ""))
                return
            yield Outbound(frame["type"], frame.get("text", ""), frame.get("buttons") or [], frame.get("cards") or [],
                           frame.get("sources") or [], frame.get("data") or {})
            if frame["type"] in ("message", "handoff"):
                timeout = 0.4

    async def debug(self) -> list[str]:
        return [f"  · session: {self.session_id} on {self.url.split('?')[0]}"]

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._http is not None:
            await self._http.close()


async def _print_turn(chat: LocalChat | RemoteChat, text: str, debug: bool) -> list[dict[str, str]]:
    streaming = False
    buttons: list[dict[str, str]] = []
    async for event in chat.send(text):
        buttons = _print_event(event, streaming) or buttons
        streaming = event.type == "chunk"
    if debug:
        for line in await chat.debug():
            click.echo(line)
    return buttons


def _print_event(event: Outbound, streaming: bool) -> list[dict[str, str]]:
    if event.type == "chunk":
        click.echo(("" if streaming else "bot> ") + event.text, nl=False)
        return []
    if event.type == "message":
        if streaming:
            click.echo()
        else:
            who = "agent" if event.data.get("agent") else "bot"
            click.echo(f"{who}> {event.text}")
        if event.cards:
            click.echo(format_cards(event.cards))
        if event.sources:
            click.echo(f"  [source: {', '.join(event.sources)}]")
        for number, button in enumerate(event.buttons, 1):
            click.echo(f"  [{number}] {button['title']}")
        return event.buttons
    if event.type == "handoff":
        click.echo(f"[handed to a person{': ' + event.text if event.text else ''}]")
    elif event.type == "error":
        click.echo(f"[error {event.code}: {event.text}]")
    return []


def run_chat(chat: LocalChat | RemoteChat, store_name: str, stdin: TextIO | None = None) -> None:
    """Read messages until /quit or end of input; stream each reply."""
    stdin = stdin or sys.stdin
    interactive = stdin.isatty()
    if interactive:
        try:
            import readline  # noqa: F401 - line editing and history for input()
        except ImportError:
            pass
    click.echo(f"{store_name} assistant. Ask about orders, shipping, returns, payments or products. {HELP}")
    debug = False
    buttons: list[dict[str, str]] = []
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
            if text.isdigit() and buttons and 1 <= int(text) <= len(buttons):
                text = buttons[int(text) - 1]["payload"]
            if not interactive:
                click.echo(f"you> {text}")
            buttons = loop.run_until_complete(_print_turn(chat, text, debug))
    finally:
        loop.run_until_complete(chat.close())
        loop.close()
    click.echo("bye")
