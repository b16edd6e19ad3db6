"""Load on a real `shopbot serve`: N concurrent websocket sessions x M FAQ turns, then the same questions over
socket.io and REST to check every channel answers alike; also cold start to `/ready` and server memory.

    python benchmarks/serving/bench_ws.py --sessions 200 --turns 5 --think 3 --json benchmarks/results/serving/ws_200x5.json

`--think` is the pause between a reply and the shopper's next message (0 = every session fires its next question
the moment it has an answer: a burst, not shoppers). Questions come from the demo paraphrase set.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp
import socketio

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bot.benchmark import free_port, rss_mb, wait_ready  # noqa: E402
from bot.reporting import percentile, write_report  # noqa: E402

QUESTIONS = ROOT / "benchmarks" / "retrieval" / "demo_paraphrases.csv"


async def ws_session(base: str, questions: list[str], think: float, results: dict) -> None:
    url = base.replace("http", "ws") + "/ws"
    async with aiohttp.ClientSession() as http:
        try:
            async with http.ws_connect(url, timeout=aiohttp.ClientWSTimeout(ws_close=60)) as ws:
                await ws.receive_json()
                for number, question in enumerate(questions):
                    if number and think:
                        await asyncio.sleep(random.uniform(0.5 * think, 1.5 * think))
                    sent = time.perf_counter()
                    await ws.send_json({"type": "message", "text": question, "message_id": f"q{number}"})
                    first = None
                    while True:
                        frame = await ws.receive_json(timeout=120)
                        first = first or time.perf_counter()
                        if frame["type"] == "error":
                            results["errors"].append(frame.get("code"))
                            break
                        if frame["type"] in ("message", "handoff"):
                            results["turns"].append(time.perf_counter() - sent)
                            results["first"].append(first - sent)
                            results["replies"].setdefault(question, frame.get("text", ""))
                            break
        except Exception as exc:  # noqa: BLE001 - every failure is counted, none stops the run
            results["errors"].append(type(exc).__name__)


async def ws_load(base: str, sessions: int, turns: int, think: float, questions: list[str]) -> dict:
    rng = random.Random(7)
    results: dict = {"turns": [], "first": [], "errors": [], "replies": {}}
    started = time.perf_counter()
    await asyncio.gather(*(ws_session(base, rng.sample(questions, turns), think, results) for _ in range(sessions)))
    wall = time.perf_counter() - started
    return {"sessions": sessions, "turns_per_session": turns, "think_s": think, "turns": len(results["turns"]),
            "errors": len(results["errors"]), "error_kinds": sorted(set(results["errors"])),
            "p50_ms": round(percentile(results["turns"], 0.5) * 1000, 1),
            "p95_ms": round(percentile(results["turns"], 0.95) * 1000, 1),
            "p99_ms": round(percentile(results["turns"], 0.99) * 1000, 1),
            "first_event_p50_ms": round(percentile(results["first"], 0.5) * 1000, 1),
            "throughput_turns_per_s": round(len(results["turns"]) / wall, 1), "wall_s": round(wall, 1),
            "replies": results["replies"]}


async def rest_replies(base: str, questions: list[str]) -> dict[str, str]:
    out = {}
    run = uuid.uuid4().hex[:8]
    async with aiohttp.ClientSession() as http:
        for number, question in enumerate(questions):
            async with http.post(base + "/webhooks/rest/webhook",
                                 json={"sender": f"bench-rest-{run}-{number}", "message": question}) as response:
                messages = await response.json()
            out[question] = next((m["text"] for m in messages if m.get("text")), "")
    return out


async def socketio_replies(base: str, questions: list[str]) -> dict[str, str]:
    out = {}
    for question in questions:
        client = socketio.AsyncClient()
        got: asyncio.Queue = asyncio.Queue()
        confirmed: asyncio.Queue = asyncio.Queue()
        client.on("bot_uttered", lambda data: got.put_nowait(data))
        client.on("session_confirm", lambda sid: confirmed.put_nowait(sid))
        await client.connect(base, transports=["websocket"])
        await client.emit("session_request", {})
        session = await asyncio.wait_for(confirmed.get(), 10)
        await client.emit("user_uttered", {"message": question, "session_id": session})
        out[question] = (await asyncio.wait_for(got.get(), 60)).get("text", "")
        await client.disconnect()
    return out


async def main_async(args: argparse.Namespace) -> dict:
    with QUESTIONS.open(encoding="utf-8") as handle:
        questions = [row["query"] for row in csv.DictReader(handle)]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "SHOPBOT_DATA_DIR": args.data_dir, "SHOPBOT_RESPONDER_MODE": args.responder,
           "PYTHONUNBUFFERED": "1"}
    config = Path(args.data_dir) / "bench.yml"  # every session comes from 127.0.0.1: lift the per-address limit
    config.write_text("server:\n  ip_messages_per_minute: 1000000\n", encoding="utf-8")
    command = [sys.executable, "-m", "bot.cli", "--config", str(config), "serve", "--port", str(port)]
    log = open(Path(args.data_dir) / "server.log", "wb")  # noqa: SIM115 - closed below
    started = time.perf_counter()
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        await wait_ready(base)
        cold_start = time.perf_counter() - started
        idle_mb = rss_mb(server.pid)
        load = await ws_load(base, args.sessions, args.turns, args.think, questions)
        sample = questions[: args.compare]
        ws_sample: dict[str, str] = {}
        for question in sample:  # each question in a new conversation on every channel
            results: dict = {"turns": [], "first": [], "errors": [], "replies": {}}
            await ws_session(base, [question], 0, results)
            ws_sample.update(results["replies"])
        rest = await rest_replies(base, sample)
        sio = await socketio_replies(base, sample)
        same_rest = sum(ws_sample.get(q) == rest.get(q) for q in sample)
        same_sio = sum(ws_sample.get(q) == sio.get(q) for q in sample)
        differing = [{"question": q, "ws": ws_sample.get(q), "rest": rest.get(q), "socketio": sio.get(q)}
                     for q in sample if not ws_sample.get(q) == rest.get(q) == sio.get(q)]
        return {**{k: v for k, v in load.items() if k != "replies"}, "cold_start_to_ready_s": round(cold_start, 1),
                "server_rss_idle_mb": round(idle_mb), "server_rss_peak_mb": round(rss_mb(server.pid, "VmHWM")),
                "channels_compared": len(sample), "rest_same_reply": same_rest, "socketio_same_reply": same_sio, "differing": differing,
                "responder": args.responder, "machine": f"{platform.machine()}, {os.cpu_count()} cpus"}
    finally:
        server.terminate()
        server.wait(30)
        log.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--turns", type=int, default=5)
    parser.add_argument("--think", type=float, default=3.0, help="seconds between a reply and the next message")
    parser.add_argument("--compare", type=int, default=20, help="questions asked on every channel to compare")
    parser.add_argument("--responder", default="extractive", help="SHOPBOT_RESPONDER_MODE for the server")
    parser.add_argument("--data-dir", default="", help="where the server keeps conversations (default: a new temp folder)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    args.data_dir = args.data_dir or tempfile.mkdtemp(prefix="shopbot-bench-")
    Path(args.data_dir).mkdir(parents=True, exist_ok=True)
    report = asyncio.run(main_async(args))
    print(json.dumps(report))
    write_report(args.json, report)


if __name__ == "__main__":
    main()
