"""Real processes for the fault tests and benchmarks/faults: `shopbot serve` and a stock rasa-sdk action server,
started, killed (-9), stopped (SIGSTOP / SIGCONT) and restarted on the same data, port and order back-end."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

from tests.support import DEMO_ORDERS, DEMO_TODAY, demo_backend, free_port, listening, serve_env, start_serve, wait_http


def order_backend(path: Path) -> Path:
    """The demo orders in a SQLite file, with an `audit` table a trigger fills on every change to an order row:
    the side effects done, counted in the back-end itself."""
    demo_backend(path, clock=None)
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE IF NOT EXISTS audit (order_id TEXT NOT NULL, status TEXT NOT NULL)")
        db.execute("CREATE TRIGGER IF NOT EXISTS audit_orders AFTER UPDATE ON orders "
                   "BEGIN INSERT INTO audit VALUES (new.id, new.status); END")
    return path


def side_effects(path: Path, order_id: str) -> list[str]:
    """The statuses an order was changed to, in order (one entry a change)."""
    with sqlite3.connect(path) as db:
        return [row[0] for row in db.execute("SELECT status FROM audit WHERE order_id = ? ORDER BY rowid",
                                             (order_id,))]


class ShopbotServer:
    """`shopbot serve` (demo store, extractive replies, the tests' cache) on a fixed port and data folder, so a
    restart continues where the killed process was."""

    def __init__(self, folder: Path, config: dict[str, Any] | None = None, env: dict[str, str] | None = None):
        self.folder = folder
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.data = folder / "data"
        self.store_db = order_backend(folder / "store.db") if not (folder / "store.db").exists() else folder / "store.db"
        settings = {"server": {"ip_messages_per_minute": 100000, "messages_per_minute": 100000,
                               "max_connections": 10000, "max_connections_per_ip": 0}}
        for section, values in (config or {}).items():
            settings[section] = {**settings.get(section, {}), **values}
        self.config = folder / "shopbot.yml"
        self.config.write_text(json.dumps(settings), encoding="utf-8")  # JSON is YAML
        self.env = serve_env(self.data, SHOPBOT_TODAY=DEMO_TODAY, SHOPBOT_STORE_DB=str(self.store_db), **(env or {}))
        self.process: subprocess.Popen | None = None
        self.starts = 0

    @property
    def log(self) -> Path:
        return self.folder / f"serve-{self.starts}.log"

    def start(self) -> None:
        self.starts += 1
        self.process = start_serve(self.port, self.log, self.env, self.config)
        wait_http(f"{self.base}/ready", self.process, self.log)

    def kill9(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(30)

    def terminate(self, timeout_s: float = 120) -> int:
        """SIGTERM and the exit code (the wait is a deadline for a hung process, not a measurement)."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.terminate()
        try:
            return self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(30)
            raise

    def listening(self) -> bool:
        return listening(self.port)

    def events(self) -> dict[str, list[dict[str, Any]]]:
        """Every stored event, by conversation, read from conversations.db."""
        out: dict[str, list[dict[str, Any]]] = {}
        with sqlite3.connect(self.data / "conversations.db") as db:
            for conversation, data in db.execute("SELECT conversation_id, data FROM events ORDER BY id"):
                out.setdefault(conversation, []).append(json.loads(data))
        return out


def turns(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A conversation's turns: each user event with the bot texts after it and whether it ran to its end."""
    out: list[dict[str, Any]] = []
    for event in events:
        if event["event"] == "user":
            out.append({"text": event.get("text"), "message_id": (event.get("metadata") or {}).get("message_id"),
                        "bot": [], "complete": False})
        elif out and event["event"] == "bot":
            out[-1]["bot"].append(event.get("text") or "")
        elif out and event["event"] == "action" and event.get("name") == "action_listen":
            out[-1]["complete"] = True
    return out


# -- kill -9 under load ------------------------------------------------------------------------------------------

FAQ = ("do you ship to Canada?", "how long do refunds take?")


def demo_pairs(count: int) -> list[tuple[str, str]]:
    """(order id, email) pairs of the demo's orders."""
    orders = json.loads(DEMO_ORDERS.read_text(encoding="utf-8"))["orders"]
    return [(str(o["id"]), str(o["email"])) for o in orders[:count]]


class Shopper:
    """One REST sender: a scripted conversation (order look-ups through the order form, or streamed FAQ answers),
    every message with its own `message_id`; a message cut by a crash is sent again with the same id."""

    def __init__(self, name: str, kind: str, pairs: list[tuple[str, str]]):
        self.name, self.kind, self.pairs = name, kind, pairs
        self.sent = 0
        self.acked: dict[str, list[str]] = {}    # message id -> the reply texts the shopper saw
        self.answered_before: list[str] = []     # sent again after a crash, already answered: its reply was lost
        self.cut = 0                             # requests a crash cut
        self.unexpected: list[str] = []          # replies that do not continue the conversation

    def script(self, step: int) -> tuple[str, str | None]:
        """The message of a step and a text its reply must hold."""
        if self.kind == "faq":
            question = FAQ[step % len(FAQ)]
            return question, "Canada" if "Canada" in question else "refund"
        order, email = self.pairs[(step // 2) % len(self.pairs)]
        if step % 2 == 0:
            return f'/order_status{{"order_id": "{order}"}}', "email"
        return f'/inform{{"email": "{email}"}}', f"Order {order}"

    async def run(self, http: Any, base: dict[str, str], up: Any, stop: Any) -> None:
        import aiohttp

        step = 0
        while not stop.is_set():
            text, expect = self.script(step)
            message_id = f"{self.name}-{step}"
            retried = False
            while True:
                await up.wait()
                seen: list[str] = []
                try:
                    stream = "?stream=true" if self.kind == "faq" else ""
                    async with http.post(f"{base['url']}/webhooks/rest/webhook{stream}",
                                         json={"sender": self.name, "message": text,
                                               "metadata": {"message_id": message_id}}) as response:
                        if response.status != 200:
                            raise aiohttp.ClientPayloadError(f"HTTP {response.status}")
                        if stream:
                            async for line in response.content:
                                if line.strip():
                                    seen.append(json.loads(line).get("text") or "")
                        else:
                            seen = [m.get("text") or "" for m in await response.json()]
                    break
                except (aiohttp.ClientError, ConnectionError, json.JSONDecodeError):
                    self.cut += 1
                    if seen:  # lines a stream delivered before the crash: the shopper saw them
                        self.acked.setdefault(message_id, []).extend(t for t in seen if t)
                    retried = True
                    await up.wait_for_restart()
            self.sent += 1
            texts = [t for t in seen if t]
            if texts:
                self.acked.setdefault(message_id, []).extend(texts)
                if expect and expect.lower() not in " ".join(texts).lower():
                    self.unexpected.append(f"{message_id} {text!r}: {texts}")
            elif retried or message_id in self.acked:
                self.answered_before.append(message_id)
            else:
                self.unexpected.append(f"{message_id} {text!r}: no reply")
            step += 1


class Up:
    """Whether the server is up; shoppers whose request a crash cut wait here for the restart."""

    def __init__(self) -> None:
        import asyncio

        self._up = asyncio.Event()
        self._restarted = asyncio.Event()

    async def wait(self) -> None:
        await self._up.wait()

    async def wait_for_restart(self) -> None:
        await self._restarted.wait()

    def down(self) -> None:
        self._up.clear()
        self._restarted.clear()

    def set_up(self) -> None:
        self._up.set()
        self._restarted.set()


def kill9_run(folder: Path, kills: int, acks_between: int = 12, form_shoppers: int = 3,
              faq_shoppers: int = 3) -> dict[str, Any]:
    """Shoppers talk to `shopbot serve` without pause; every `acks_between` replies it is killed (-9) and started
    again. Then every conversation in conversations.db is compared with what its shopper saw."""
    import asyncio

    import aiohttp

    server = ShopbotServer(folder)
    pairs = demo_pairs(12)
    shoppers = [Shopper(f"form{i}", "form", pairs[i::form_shoppers]) for i in range(form_shoppers)] + \
               [Shopper(f"faq{i}", "faq", pairs) for i in range(faq_shoppers)]

    async def drive() -> None:
        up, stop = Up(), asyncio.Event()
        await asyncio.to_thread(server.start)
        up.set_up()
        base = {"url": server.base}
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300)) as http:
            tasks = [asyncio.create_task(s.run(http, base, up, stop)) for s in shoppers]
            for _ in range(kills):
                target = sum(len(s.acked) + len(s.answered_before) for s in shoppers) + acks_between
                while sum(len(s.acked) + len(s.answered_before) for s in shoppers) < target:
                    await asyncio.sleep(0.01)
                    if any(t.done() for t in tasks):
                        break
                up.down()
                await asyncio.to_thread(server.kill9)
                await asyncio.to_thread(server.start)
                up.set_up()
            target = sum(len(s.acked) + len(s.answered_before) for s in shoppers) + acks_between
            while sum(len(s.acked) + len(s.answered_before) for s in shoppers) < target and \
                    not any(t.done() for t in tasks):
                await asyncio.sleep(0.01)
            stop.set()
            await asyncio.gather(*tasks)

    try:
        asyncio.run(drive())
    finally:
        if server.process is not None and server.process.poll() is None:
            server.terminate()
    return compare(server.events(), shoppers) | {"kills": kills, "starts": server.starts}


def compare(stored: dict[str, list[dict[str, Any]]], shoppers: list[Shopper]) -> dict[str, Any]:
    """What the store holds against what each shopper saw: acknowledged replies missing from the store (lost),
    messages stored more than once (duplicated), and replies that did not continue the conversation."""
    lost, duplicated, unanswered = [], [], []
    for shopper in shoppers:
        conversation = turns(stored.get(f"rest:{shopper.name}", []))
        by_id: dict[str, list[dict[str, Any]]] = {}
        for turn in conversation:
            by_id.setdefault(turn["message_id"], []).append(turn)
        for message_id, texts in shopper.acked.items():
            done = [t for t in by_id.get(message_id, []) if t["complete"]]
            if not done or any(text not in done[0]["bot"] for text in texts):
                lost.append(f"rest:{shopper.name} {message_id}: saw {texts}, stored {by_id.get(message_id)}")
        for message_id in shopper.answered_before:
            if not any(t["complete"] for t in by_id.get(message_id, [])):
                unanswered.append(f"rest:{shopper.name} {message_id}")
        duplicated += [f"rest:{shopper.name} {m}: {len(ts)} times" for m, ts in by_id.items() if len(ts) > 1]
    return {"messages": sum(s.sent for s in shoppers), "cut_by_a_crash": sum(s.cut for s in shoppers),
            "acknowledged": sum(len(s.acked) for s in shoppers),
            "answered_before_reply_lost": sum(len(s.answered_before) for s in shoppers),
            "lost": lost, "duplicated": duplicated, "unanswered": unanswered,
            "unexpected": [u for s in shoppers for u in s.unexpected]}
