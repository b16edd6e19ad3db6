"""Two `shopbot serve` replicas, N shoppers, agents replying through the replica the shopper is not on: are agent
replies lost, misrouted (delivered to another shopper) or duplicated?

    python benchmarks/replicas/bench_replicas.py --sessions 40 --minutes 10 --json benchmarks/results/replicas/run.json

Without `--urls` it starts two replicas itself (a fresh PostgreSQL database and a Redis database, as the CI test
does: tests/integration/replicas.py); with `--urls A,B --agent-token T` it drives replicas already running.

Each session (every `--socketio-every`-th one over socket.io, the rest over `/ws`) connects to A or B in turn and
repeats a cycle until time is up: ask for a person on replica R; the agent sends `--replies` messages through the
other replica O; the shopper reconnects (resumes) on O and writes; the agent sends as many through R and gives the
chat back, and the "back with the assistant" message closes the cycle; the next cycle starts on O. Every agent
message carries a unique tag, so a receipt is matched to its sender: `lost` (never received live), `duplicated`
(received more than once) and `misrouted` (received by another session) are counted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import socketio

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bot.reporting import write_report  # noqa: E402

BACK_TEXT = "back with the assistant"
TAG = re.compile(r"\[bench (\w+) s(\d+) m(\d+)\]")
WAIT_S = 20.0      # how long a phase waits for its replies before counting the missing ones lost


@dataclass
class Tally:
    run: str
    sent: dict[str, tuple[int, float]] = field(default_factory=dict)           # tag -> (session, sent at)
    received: dict[str, list[tuple[int, float]]] = field(default_factory=lambda: defaultdict(list))
    errors: Counter = field(default_factory=Counter)
    cycles: int = 0
    reconnects: int = 0
    resume_failures: int = 0
    not_pushed: int = 0

    def heard(self, session: int, text: str) -> str | None:
        match = TAG.search(text or "")
        if match is None or match.group(1) != self.run:
            return None
        tag = match.group(0)
        self.received[tag].append((session, time.perf_counter()))
        return tag


class Shopper:
    """One shopper's live connection (/ws or socket.io) to one replica; `inbox` gets the tags it receives."""

    def __init__(self, index: int, tally: Tally, kind: str):
        self.index, self.tally, self.kind = index, tally, kind
        self.tags: asyncio.Queue[str] = asyncio.Queue()
        self.back: asyncio.Queue[None] = asyncio.Queue()
        self.turns: asyncio.Queue[dict] = asyncio.Queue()
        self.session: dict[str, Any] = {}
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task | None = None
        self._sio: socketio.AsyncClient | None = None

    def _incoming(self, text: str, frame: dict) -> None:
        tag = self.tally.heard(self.index, text)
        if tag is not None:
            self.tags.put_nowait(tag)
        elif BACK_TEXT in (text or ""):
            self.back.put_nowait(None)
        else:
            self.turns.put_nowait(frame)

    async def connect(self, http: aiohttp.ClientSession, base: str) -> bool:
        """Connect (resuming the session if there is one); False when the session could not be resumed."""
        wanted = self.session.get("session_id")
        if self.kind == "ws":
            query = {k: self.session[k] for k in ("session_id", "secret") if self.session.get(k)}
            self._ws = await http.ws_connect(f"{base}/ws", params=query, heartbeat=20)
            hello = await asyncio.wait_for(self._ws.receive_json(), WAIT_S)
            self.session = hello
            if hello.get("resumed"):
                await asyncio.wait_for(self._ws.receive_json(), WAIT_S)   # history: not live, not counted
            self._reader = asyncio.create_task(self._read_ws(self._ws))
        else:
            client = socketio.AsyncClient()
            confirmed: asyncio.Future = asyncio.get_running_loop().create_future()
            client.on("bot_uttered", lambda data: data.get("text") and self._incoming(data["text"], data))
            client.on("session_confirm", lambda sid: confirmed.done() or confirmed.set_result(sid))
            await client.connect(base, socketio_path="socket.io", transports=["websocket"])
            await client.emit("session_request", {"session_id": wanted} if wanted else {})
            self.session = {"session_id": await asyncio.wait_for(confirmed, WAIT_S)}
            self._sio = client
        return wanted is None or self.session.get("session_id") == wanted

    async def _read_ws(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for message in ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            frame = json.loads(message.data)
            if frame.get("type") == "error":
                self.tally.errors[f"ws_{frame.get('code')}"] += 1
            if frame.get("type") in ("message", "handoff", "error"):
                self._incoming(frame.get("text") or "", frame)

    async def say(self, text: str) -> None:
        """Send a message and wait for the turn's answer (a message, handoff or error)."""
        if self.kind == "ws":
            assert self._ws is not None
            await self._ws.send_json({"type": "message", "text": text})
        else:
            assert self._sio is not None
            await self._sio.emit("user_uttered", {"message": text, "session_id": self.session["session_id"],
                                                  "customData": {}})
        await asyncio.wait_for(self.turns.get(), WAIT_S)

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
            if self._reader is not None:
                await asyncio.gather(self._reader, return_exceptions=True)
            self._ws = None
        if self._sio is not None:
            await self._sio.disconnect()
            self._sio = None
        for queue in (self.tags, self.back, self.turns):
            while not queue.empty():
                queue.get_nowait()

    @property
    def conversation(self) -> str:
        return f"{'web' if self.kind == 'ws' else 'socketio'}:{self.session['session_id']}"


class Agent:
    """The agent console's API on one replica."""

    def __init__(self, http: aiohttp.ClientSession, token: str, tally: Tally):
        self.http, self.headers, self.tally = http, {"Authorization": f"Bearer {token}"}, tally
        self.sequence = 0

    async def wait_handed_off(self, base: str, conversation: str) -> bool:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            async with self.http.get(f"{base}/agent/api/conversations/{conversation}",
                                     headers=self.headers) as response:
                if response.status == 200 and (await response.json()).get("paused"):
                    return True
            await asyncio.sleep(0.2)
        self.tally.errors["never_handed_off"] += 1
        return False

    async def reply(self, base: str, conversation: str, session: int) -> str:
        self.sequence += 1
        tag = f"[bench {self.tally.run} s{session} m{self.sequence}]"
        self.tally.sent[tag] = (session, time.perf_counter())
        async with self.http.post(f"{base}/agent/api/conversations/{conversation}/messages", headers=self.headers,
                                  json={"text": f"Hi, this is the team. {tag}"}) as response:
            if response.status != 200:
                self.tally.errors[f"agent_reply_{response.status}"] += 1
            elif (await response.json()).get("pushed") is False:
                self.tally.not_pushed += 1
        return tag

    async def resume(self, base: str, conversation: str) -> None:
        async with self.http.post(f"{base}/agent/api/conversations/{conversation}/resume",
                                  headers=self.headers) as response:
            if response.status != 200:
                self.tally.errors[f"agent_resume_{response.status}"] += 1


async def expect(queue: asyncio.Queue, count: int) -> None:
    """Take `count` items from `queue`, or as many as come within WAIT_S (the rest are counted lost later)."""
    try:
        for _ in range(count):
            await asyncio.wait_for(queue.get(), WAIT_S)
    except asyncio.TimeoutError:
        pass


async def session_loop(index: int, bases: list[str], deadline: float, args: argparse.Namespace, tally: Tally,
                       http: aiohttp.ClientSession) -> None:
    kind = "socketio" if args.socketio_every and index % args.socketio_every == args.socketio_every - 1 else "ws"
    shopper, agent = Shopper(index, tally, kind), Agent(http, args.agent_token, tally)
    here, there = bases[index % 2], bases[(index + 1) % 2]
    await asyncio.sleep(index * args.think / max(1, args.sessions) * 4)   # spread the starts
    try:
        await shopper.connect(http, here)
        while time.monotonic() < deadline:
            await shopper.say("/human_handoff")
            if not await agent.wait_handed_off(there, shopper.conversation):
                break
            for _ in range(args.replies):                     # shopper on `here`, agent on `there`
                await agent.reply(there, shopper.conversation, index)
                await asyncio.sleep(args.think)
            await expect(shopper.tags, args.replies)
            await shopper.close()                             # reconnect to the other replica midway
            tally.reconnects += 1
            if not await shopper.connect(http, there):
                tally.resume_failures += 1
                break
            await shopper.say("I'm still here")               # paused: the agent hears it; the socket is live
            for _ in range(args.replies):                     # shopper on `there`, agent on `here`
                await agent.reply(here, shopper.conversation, index)
                await asyncio.sleep(args.think)
            await agent.resume(here, shopper.conversation)
            await expect(shopper.tags, args.replies)
            await expect(shopper.back, 1)
            tally.cycles += 1
            here, there = there, here
            await asyncio.sleep(args.think)
    except (aiohttp.ClientError, asyncio.TimeoutError, socketio.exceptions.SocketIOError, OSError) as exc:
        tally.errors[f"session_{type(exc).__name__}"] += 1
    finally:
        await asyncio.sleep(2)   # late duplicates still count
        await shopper.close()


def summary(tally: Tally) -> dict[str, Any]:
    lost = [tag for tag in tally.sent if not tally.received.get(tag)]
    duplicated = sum(len(r) - 1 for r in tally.received.values() if len(r) > 1)
    misrouted = sum(1 for tag, receipts in tally.received.items() for session, _ in receipts
                    if tag in tally.sent and session != tally.sent[tag][0])
    latencies = sorted((receipts[0][1] - tally.sent[tag][1]) * 1000 for tag, receipts in tally.received.items()
                       if receipts and tag in tally.sent)

    def pct(q: float) -> float | None:
        return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))], 1) if latencies else None

    return {"agent_messages": len(tally.sent), "delivered": len(tally.sent) - len(lost), "lost": len(lost),
            "duplicated": duplicated, "misrouted": misrouted, "not_pushed": tally.not_pushed,
            "cycles": tally.cycles, "reconnects": tally.reconnects, "resume_failures": tally.resume_failures,
            "errors": dict(tally.errors), "lost_examples": lost[:10],
            "delivery_ms": {"p50": pct(0.5), "p95": pct(0.95), "p99": pct(0.99),
                            "max": round(latencies[-1], 1) if latencies else None,
                            "mean": round(statistics.fmean(latencies), 1) if latencies else None}}


async def drive(bases: list[str], args: argparse.Namespace) -> dict[str, Any]:
    tally = Tally(uuid.uuid4().hex[:8])
    deadline = time.monotonic() + args.minutes * 60
    started = time.perf_counter()
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        await asyncio.gather(*(session_loop(i, bases, deadline, args, tally, http) for i in range(args.sessions)))
    return {**summary(tally), "seconds": round(time.perf_counter() - started, 1)}


def bench_config(folder: Path) -> Path:
    """Limits that fit many shoppers on one address (the benchmark's) without touching per-session limits."""
    from bot.config import ServerSettings

    wanted = {"ip_messages_per_minute": 100_000, "max_connections_per_ip": 10_000, "max_connections": 10_000}
    lines = [f"  {k}: {v}" for k, v in wanted.items() if k in ServerSettings.model_fields]
    path = folder / "shopbot.yml"
    path.write_text("server:\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=40)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--replies", type=int, default=2, help="agent messages per phase (two phases a cycle)")
    parser.add_argument("--think", type=float, default=1.0, help="seconds between a session's steps")
    parser.add_argument("--socketio-every", type=int, default=4,
                        help="every Nth session uses socket.io (0: none)")
    parser.add_argument("--urls", help="A,B: replicas already running (default: start two)")
    parser.add_argument("--agent-token", default=os.environ.get("SHOPBOT_AGENT_TOKEN", ""))
    parser.add_argument("--json", type=Path, help="write the report here too")
    args = parser.parse_args()
    with ExitStack() as stack:
        if args.urls:
            bases = [u.rstrip("/") for u in args.urls.split(",")]
            if len(bases) != 2 or not args.agent_token:
                parser.error("--urls needs two addresses and --agent-token")
        else:
            from tests.integration.replicas import AGENT_TOKEN, fresh_database, redis_database, replicas

            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-replicas-")))
            database = stack.enter_context(fresh_database())
            started = stack.enter_context(replicas(2, database, redis_database(), folder, bench_config(folder),
                                                   env={"SHOPBOT_SESSION_KEY": os.urandom(24).hex()}))
            bases, args.agent_token = [r.url for r in started], AGENT_TOKEN
        result = asyncio.run(drive(bases, args))
    report = {"benchmark": "replicas", "sessions": args.sessions, "minutes": args.minutes, "replies": args.replies,
              "think_s": args.think, "socketio_every": args.socketio_every, "replicas": len(bases), **result,
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version()}}
    print(json.dumps(report, indent=2))
    write_report(args.json, report)


if __name__ == "__main__":
    main()
