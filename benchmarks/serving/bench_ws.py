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
import sys
import tempfile
import uuid
from pathlib import Path

import aiohttp
import socketio

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bot.benchmark import SERVE, rss_mb, run_scripts, served, summarise  # noqa: E402
from bot.reporting import write_report  # noqa: E402

QUESTIONS = ROOT / "benchmarks" / "retrieval" / "demo_paraphrases.csv"


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
    async with served(SERVE, {"SHOPBOT_RESPONDER_MODE": args.responder}, Path(args.data_dir)) as server:
        idle_mb = rss_mb(server.process.pid)
        rng = random.Random(7)
        scripts = [[("faq", q) for q in rng.sample(questions, args.turns)] for _ in range(args.sessions)]
        load = summarise(*await run_scripts(server.base, scripts, args.think))
        sample = questions[: args.compare]
        ws_sample = {}
        for question in sample:  # each question in a new conversation on every channel
            result, _ = await run_scripts(server.base, [[("faq", question)]])
            ws_sample.update({turn.text: turn.reply for turn in result.turns})
        rest = await rest_replies(server.base, sample)
        sio = await socketio_replies(server.base, sample)
        same_rest = sum(ws_sample.get(q) == rest.get(q) for q in sample)
        same_sio = sum(ws_sample.get(q) == sio.get(q) for q in sample)
        differing = [{"question": q, "ws": ws_sample.get(q), "rest": rest.get(q), "socketio": sio.get(q)}
                     for q in sample if not ws_sample.get(q) == rest.get(q) == sio.get(q)]
        figures = {k: v for k, v in load.items() if k not in ("latencies_ms", "first_chunks_ms", "by_kind")}
        return {"sessions": args.sessions, "turns_per_session": args.turns, "think_s": args.think, **figures,
                "cold_start_to_ready_s": round(server.cold_start_s, 1), "server_rss_idle_mb": round(idle_mb),
                "server_rss_peak_mb": round(rss_mb(server.process.pid, "VmHWM")), "channels_compared": len(sample),
                "rest_same_reply": same_rest, "socketio_same_reply": same_sio, "differing": differing,
                "responder": args.responder, "machine": f"{platform.machine()}, {os.cpu_count()} cpus"}


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
