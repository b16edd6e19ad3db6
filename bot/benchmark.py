"""`shopbot bench`: load on a real server, then the same load on the naive baseline, in one run.

Each phase starts a server process (`shopbot serve`, then `benchmarks/baseline/naive_server.py`), waits for
`/ready` (cold start), asks one session's questions one at a time (latency with nobody else around), then drives N
concurrent websocket sessions of M turns each with the demo store's mix: FAQ questions (answers the LM writes),
product searches (cards), and order look-ups (order number, then email). It reports throughput, turn latency
percentiles, first-chunk latency of generated answers, and the server's peak memory.
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import platform
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bot.config import DEMO_KB, PROJECT_ROOT
from bot.reporting import percentile

QUESTIONS = PROJECT_ROOT / "benchmarks" / "retrieval" / "demo_paraphrases.csv"
BASELINE = PROJECT_ROOT / "benchmarks" / "baseline" / "naive_server.py"
PRODUCT_QUERIES = ["show me waterproof jackets", "running shoes under $120", "a warm sleeping bag for winter",
                   "lightweight tent for two people", "trail running shoes for women", "a rain jacket for hiking",
                   "hiking boots with good ankle support", "a backpack for day hikes", "camp shoes",
                   "down jacket for cold weather"]
MIX = (("faq", 0.4), ("product", 0.3), ("order", 0.3))  # order look-ups take two turns: number, then email
TURN_TIMEOUT_S = 300


@dataclass
class Turn:
    """One shopper message and what it took to answer."""

    kind: str             # faq, product, order
    text: str
    seconds: float
    reply: str = ""
    first_chunk: float | None = None   # when the reply was an answer streamed by the responder (the LM's, in
                                       # generate mode): its first chunk

    @property
    def streamed(self) -> bool:
        return self.first_chunk is not None


@dataclass
class LoadResult:
    turns: list[Turn] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def rss_mb(pid: int, key: str = "VmRSS") -> float:
    """A process's resident memory (`VmHWM`: its peak) in MB, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


async def wait_ready(base: str, server: subprocess.Popen | None = None, deadline_s: float = 600) -> float:
    """Seconds until `base/ready` answers 200 (an error if the server exits or never gets there)."""
    started = time.perf_counter()
    async with aiohttp.ClientSession() as http:
        while time.perf_counter() - started < deadline_s:
            if server is not None and server.poll() is not None:
                raise RuntimeError(f"the server exited with code {server.returncode} before it was ready")
            try:
                async with http.get(base + "/ready") as response:
                    if response.status == 200:
                        return time.perf_counter() - started
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise RuntimeError("the server never became ready")


def demo_questions() -> list[str]:
    with QUESTIONS.open(encoding="utf-8") as handle:
        return [row["query"] for row in csv.DictReader(handle)]


def demo_orders() -> list[tuple[str, str]]:
    orders = json.loads((DEMO_KB / "orders.json").read_text(encoding="utf-8"))["orders"]
    return [(order["id"], order["email"]) for order in orders]


def session_script(rng: random.Random, turns: int, questions: list[str], orders: list[tuple[str, str]]) \
        -> list[tuple[str, str]]:
    """`turns` (kind, message) pairs drawn from the mix; an order look-up is its number, then its email."""
    script: list[tuple[str, str]] = []
    kinds, weights = zip(*MIX)
    while len(script) < turns:
        kind = rng.choices(kinds, weights)[0]
        if kind == "faq":
            script.append(("faq", rng.choice(questions)))
        elif kind == "product":
            script.append(("product", rng.choice(PRODUCT_QUERIES)))
        elif len(script) + 2 <= turns:
            order_id, email = rng.choice(orders)
            script += [("order", f"where is my order {order_id}?"), ("order", email)]
    return script


async def drive_session(base: str, script: list[tuple[str, str]], result: LoadResult, think_s: float = 0.0) -> None:
    """One shopper on `/ws`: each message waits for the previous reply (and `think_s`, give or take half)."""
    url = base.replace("http", "ws", 1) + "/ws"
    try:
        async with aiohttp.ClientSession() as http, http.ws_connect(url, max_msg_size=0) as ws:
            await ws.receive_json(timeout=60)  # the session frame
            for number, (kind, text) in enumerate(script):
                if number and think_s:
                    await asyncio.sleep(random.uniform(0.5 * think_s, 1.5 * think_s))
                sent = time.perf_counter()
                await ws.send_json({"type": "message", "text": text, "message_id": f"m{number}"})
                first_chunk = None
                while True:
                    frame = await ws.receive_json(timeout=TURN_TIMEOUT_S)
                    if frame["type"] == "chunk" and first_chunk is None:
                        first_chunk = time.perf_counter() - sent
                    if frame["type"] == "error":
                        result.errors.append(str(frame.get("code")))
                        break
                    if frame["type"] in ("message", "handoff"):
                        seconds = time.perf_counter() - sent
                        result.turns.append(Turn(kind, text, seconds, frame.get("text") or "", first_chunk))
                        break
    except Exception as exc:  # noqa: BLE001 - every failure is counted, none stops the run
        result.errors.append(type(exc).__name__)


def summarise(result: LoadResult, wall_s: float) -> dict[str, Any]:
    """Throughput and latency figures (milliseconds) of a load."""
    seconds = [t.seconds for t in result.turns]
    chunks = [t.first_chunk for t in result.turns if t.first_chunk is not None]
    plain = [t.seconds for t in result.turns if not t.streamed]  # forms, actions, cards: no LM

    def ms(values: list[float], share: float) -> float | None:
        return round(percentile(values, share) * 1000, 1) if values else None

    by_kind = {kind: {"turns": len(v), "p50_ms": ms(v, 0.5), "p95_ms": ms(v, 0.95)}
               for kind in dict(MIX) if (v := [t.seconds for t in result.turns if t.kind == kind])}
    return {"turns": len(result.turns), "errors": len(result.errors), "error_kinds": sorted(set(result.errors)),
            "wall_s": round(wall_s, 1), "throughput_rps": round(len(result.turns) / wall_s, 2) if wall_s else 0.0,
            "p50_ms": ms(seconds, 0.5), "p95_ms": ms(seconds, 0.95), "p99_ms": ms(seconds, 0.99),
            "first_chunk_p50_ms": ms(chunks, 0.5), "first_chunk_p95_ms": ms(chunks, 0.95),
            "streamed_turns": len(chunks), "no_generation_p50_ms": ms(plain, 0.5), "by_kind": by_kind,
            "latencies_ms": sorted(round(v * 1000) for v in seconds),
            "first_chunks_ms": sorted(round(v * 1000) for v in chunks)}


async def run_scripts(base: str, scripts: list[list[tuple[str, str]]],
                      think_s: float = 0.0) -> tuple[LoadResult, float]:
    """Every script in its own concurrent session; the turns and the wall-clock seconds it took."""
    result = LoadResult()
    started = time.perf_counter()
    await asyncio.gather(*(drive_session(base, script, result, think_s) for script in scripts))
    return result, time.perf_counter() - started


async def run_load(base: str, sessions: int, turns: int, think_s: float, seed: int) -> dict[str, Any]:
    """N concurrent sessions of M turns each; the scripts depend only on `seed`, so every phase gets the same."""
    rng = random.Random(seed)
    questions, orders = demo_questions(), demo_orders()
    return summarise(*await run_scripts(base, [session_script(rng, turns, questions, orders)
                                               for _ in range(sessions)], think_s))


async def run_alone(base: str, turns: int, seed: int) -> dict[str, Any]:
    """One session's turns, one at a time, nobody else on the server: latency without queueing. Then as many FAQ
    questions again, each in a new conversation (a question asking for a person pauses a chat), so first chunks
    have a sample worth a median."""
    rng = random.Random(seed + 1)
    questions = demo_questions()
    result = LoadResult()
    started = time.perf_counter()
    await drive_session(base, session_script(rng, turns, questions, demo_orders()), result)
    for question in rng.sample(questions, turns):
        await drive_session(base, [("faq", question)], result)
    return summarise(result, time.perf_counter() - started)


async def metric_samples(base: str) -> dict[tuple[str, tuple], float]:
    """Every sample of the server's `/metrics`, keyed by name and labels."""
    from prometheus_client.parser import text_string_to_metric_families

    async with aiohttp.ClientSession() as http, http.get(base + "/metrics") as response:
        text = await response.text()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def model_figures(before: dict[tuple[str, tuple], float], after: dict[tuple[str, tuple], float]) -> dict[str, Any]:
    """What `/metrics` says between two snapshots: encoder batch sizes and waits, tokens the LM wrote, and how the
    answers from sources were written (by the LM, or quoted because of the deadline, the guard, or the setting)."""

    def value(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    out: dict[str, Any] = {}
    for model in ("nlu", "embed"):
        count = value("shopbot_batch_size_count", model=model)
        if count:
            out[f"{model}_batches"] = int(count)
            out[f"{model}_mean_batch"] = round(value("shopbot_batch_size_sum", model=model) / count, 2)
        waits = value("shopbot_batch_queue_seconds_count", model=model)
        if waits:
            out[f"{model}_mean_wait_ms"] = round(value("shopbot_batch_queue_seconds_sum", model=model) / waits * 1000,
                                                 2)
    out["generated_tokens"] = int(value("shopbot_generated_tokens_total"))
    replies = {how: int(value("shopbot_replies_total", how=how))
               for how in ("generated", "deadline", "fallback", "extractive")}
    out["replies"] = replies
    if sum(replies.values()):
        out["lm_written_share"] = round(replies["generated"] / sum(replies.values()), 3)
        out["deadline_quoted_share"] = round(replies["deadline"] / sum(replies.values()), 3)
    return out


@dataclass
class Served:
    """A server process started by `served`: where it answers and how long it took to get ready."""

    base: str
    process: subprocess.Popen
    cold_start_s: float


@asynccontextmanager
async def served(command: list[str], env: dict[str, str], folder: Path) -> AsyncIterator[Served]:
    """Run a server process (`command` may hold `{config}` and `{port}`) with its data and log in `folder` and the
    per-address, per-session and connection limits (in all and per address) lifted (every bench session comes from 127.0.0.1); stop it
    after."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "bench.yml"
    config.write_text("server:\n  ip_messages_per_minute: 1000000\n  messages_per_minute: 100000\n"
                      "  max_connections: 100000\n  max_connections_per_ip: 0\n", encoding="utf-8")
    env = {**os.environ, **env, "SHOPBOT_DATA_DIR": str(folder), "PYTHONUNBUFFERED": "1"}
    log_path = folder / "server.log"
    with log_path.open("wb") as log:
        started = time.perf_counter()
        command = [part.format(config=config, port=port) for part in command]
        server = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            try:
                await wait_ready(base, server)
            except RuntimeError as exc:
                tail = log_path.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{folder.name}: {exc}\n{tail}") from None
            yield Served(base, server, time.perf_counter() - started)
        finally:
            server.terminate()
            try:
                server.wait(60)
            except subprocess.TimeoutExpired:
                server.kill()


SERVE = [sys.executable, "-m", "bot.cli", "--config", "{config}", "serve", "--port", "{port}"]


async def bench_phase(name: str, command: list[str], env: dict[str, str], data_dir: Path, sessions: int, turns: int,
                      think_s: float, alone_turns: int, seed: int) -> dict[str, Any]:
    """Start a server, measure it, stop it."""
    async with served(command, env, data_dir / name) as server:
        idle_mb = rss_mb(server.process.pid)
        alone = await run_alone(server.base, alone_turns, seed) if alone_turns else None
        before = await metric_samples(server.base)
        load = await run_load(server.base, sessions, turns, think_s, seed)
        figures = model_figures(before, await metric_samples(server.base))  # the load's own, not the lone session's
        figures["tokens_per_s"] = round(figures["generated_tokens"] / load["wall_s"], 1) if load["wall_s"] else 0.0
        return {**load, "rss_mb": round(rss_mb(server.process.pid, "VmHWM")), "rss_idle_mb": round(idle_mb),
                "cold_start_s": round(server.cold_start_s, 1), "alone": alone, "models": figures}


def run_bench(sessions: int = 32, turns: int = 4, think_s: float = 0.0, alone_turns: int = 24, baseline: bool = True,
              responder: str = "generate", seed: int = 7, data_dir: Path | None = None,
              progress: Any = print) -> dict[str, Any]:
    """Both phases, and the comparison; `progress` gets a line as each phase starts and ends."""
    data_dir = Path(data_dir or tempfile.mkdtemp(prefix="shopbot-bench-"))
    env = {"SHOPBOT_RESPONDER_MODE": responder}
    phases = [("shopbot", SERVE)]
    if baseline:
        if not BASELINE.is_file():
            raise RuntimeError(f"the naive baseline is not here: {BASELINE} (run from a clone of the project)")
        phases.append(("baseline", [sys.executable, str(BASELINE), "--config", "{config}", "--port", "{port}"]))
    results: dict[str, dict[str, Any]] = {}
    for name, command in phases:
        progress(f"{name}: starting the server, then {sessions} sessions x {turns} turns ...")
        results[name] = asyncio.run(bench_phase(name, command, env, data_dir, sessions, turns, think_s, alone_turns,
                                                seed))
        figures = results[name]
        progress(f"{name}: {figures['throughput_rps']} turns/s, p95 {figures['p95_ms']} ms, "
                 f"{figures['errors']} errors, {figures['wall_s']} s")
    ours = results["shopbot"]
    report: dict[str, Any] = {key: ours[key] for key in ("throughput_rps", "p50_ms", "p95_ms", "p99_ms",
                                                         "first_chunk_p50_ms", "rss_mb")}
    if baseline:
        base = results["baseline"]
        report["baseline_throughput_rps"] = base["throughput_rps"]
        report["baseline_p95_ms"] = base["p95_ms"]
        report["throughput_ratio_vs_baseline"] = (round(ours["throughput_rps"] / base["throughput_rps"], 2)
                                                  if base["throughput_rps"] else None)
    alone = ours.get("alone") or {}
    report.update({"no_generation_p50_ms": ours["no_generation_p50_ms"],
                   "no_generation_p50_ms_alone": alone.get("no_generation_p50_ms"),
                   "first_chunk_p50_ms_alone": alone.get("first_chunk_p50_ms"),
                   "tokens_per_s": ours["models"].get("tokens_per_s"),
                   "lm_written_share": ours["models"].get("lm_written_share"),
                   "deadline_quoted_share": ours["models"].get("deadline_quoted_share"),
                   "cold_start_s": ours["cold_start_s"], "errors": ours["errors"],
                   "sessions": sessions, "turns_per_session": turns, "think_s": think_s, "responder": responder,
                   "machine": f"{platform.machine()}, {os.cpu_count()} cpus", "phases": results})
    return report


def table(report: dict[str, Any]) -> str:
    """The figures as a small text table: our server beside the baseline."""
    ours = report["phases"]["shopbot"]
    base = report["phases"].get("baseline")
    rows = [("throughput (turns/s)", "throughput_rps"), ("turn p50 (ms)", "p50_ms"), ("turn p95 (ms)", "p95_ms"),
            ("turn p99 (ms)", "p99_ms"), ("first chunk p50 (ms)", "first_chunk_p50_ms"),
            ("no-generation turn p50 (ms)", "no_generation_p50_ms"), ("peak memory (MB)", "rss_mb"),
            ("cold start (s)", "cold_start_s"), ("errors", "errors")]
    lines = [f"{'':30}{'shopbot':>12}{'baseline' if base else '':>12}"]
    for label, key in rows:
        lines.append(f"{label:30}{_cell(ours.get(key)):>12}{_cell(base.get(key)) if base else '':>12}")
    alone = ours.get("alone") or {}
    lines.append(f"{'alone: no-generation p50 (ms)':30}{_cell(alone.get('no_generation_p50_ms')):>12}"
                 f"{_cell((base.get('alone') or {}).get('no_generation_p50_ms')) if base else '':>12}")
    lines.append(f"{'alone: first chunk p50 (ms)':30}{_cell(alone.get('first_chunk_p50_ms')):>12}"
                 f"{_cell((base.get('alone') or {}).get('first_chunk_p50_ms')) if base else '':>12}")
    for label, key in (("LM tokens/s under load", "tokens_per_s"), ("answers written by the LM", "lm_written_share"),
                       ("answers quoted for the deadline", "deadline_quoted_share")):
        theirs = (base.get("models") or {}).get(key) if base else None
        lines.append(f"{label:30}{_cell((ours.get('models') or {}).get(key)):>12}{_cell(theirs) if base else '':>12}")
    if base:
        lines.append(f"throughput ratio vs baseline: {report['throughput_ratio_vs_baseline']}x")
    return "\n".join(lines)


def plot_latencies(report: dict[str, Any], path: Path) -> None:
    """A PNG of the turn-latency distributions (and first chunks of generated answers), shopbot beside the
    baseline: the share of turns answered within each time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(8, 4.5))
    for name, colour in (("shopbot", "tab:blue"), ("baseline", "tab:orange")):
        phase = report["phases"].get(name)
        if not phase:
            continue
        for key, style, what in (("latencies_ms", "-", "whole turn"), ("first_chunks_ms", "--", "first chunk")):
            values = [max(v, 1) / 1000 for v in phase.get(key) or []]
            if values:
                shares = [(i + 1) / len(values) for i in range(len(values))]
                axes.step(values, shares, style, color=colour, where="post", label=f"{name}: {what}")
    axes.set_xscale("log")
    axes.set_xlabel("seconds from the shopper's message (log scale)")
    axes.set_ylabel("share of turns")
    axes.set_title(f"{report['sessions']} websocket sessions x {report['turns_per_session']} turns, "
                   f"{report['machine']}: {report.get('throughput_ratio_vs_baseline', '-')}x the baseline's throughput",
                   fontsize=10)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)


def _cell(value: Any) -> str:
    return "-" if value is None else str(value)
