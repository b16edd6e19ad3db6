"""Turn latency in a conversation 1,500 turns long: loading the whole event log (before) vs the current session only.

A returning shopper's conversation is seeded with 1,500 turns of real events (one ten-turn script, recorded from the
real engine, copied with its timestamps moved: a new session every ten turns, or all in one session with
`--one-session`), then `--measure` more turns are driven through the real engine (demo domain, in-process actions,
a SQLite file) and timed, once with the store loading every event and once with it loading the current session.

    python benchmarks/dialogue/bench_long_conversation.py --json benchmarks/results/dialogue/long_conversation.json
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bot.config import DEMO_KB  # noqa: E402
from bot.dialogue.domain import load_domain  # noqa: E402
from bot.dialogue.executor import InProcessExecutor  # noqa: E402
from bot.dialogue.store import ConversationStore  # noqa: E402
from bot.engine import Engine  # noqa: E402
from bot.messages import Inbound  # noqa: E402
from bot.reporting import percentile, write_report  # noqa: E402

SCRIPT = ["/greet", '/order_status{"order_id": "10445"}', '/inform{"email": "avery_singh86@example.org"}',
          "/track_shipment", "/help", "/thanks", '/order_status{"order_id": "10453"}', "/deny", "/help", "/goodbye"]
SENDER = "long-shopper"


class WholeLogStore(ConversationStore):
    """The store as it was: every turn loads every event of the conversation."""

    def load_sync(self, conversation_id: str, message_id: str | None = None):
        return self.load_all_sync(conversation_id)


async def record_session(folder: Path) -> list[dict]:
    """The events of one ten-turn session, recorded from the real engine."""
    store = ConversationStore(folder / "record.db")
    engine = Engine(load_domain(DEMO_KB / "domain.yml"), store, InProcessExecutor())
    for text in SCRIPT:
        async for _ in engine.handle(Inbound(SENDER, text, "bench")):
            pass
    events = store.load_all_sync(f"bench:{SENDER}")
    await engine.close()
    store.close()
    return events


def seed(store: ConversationStore, session: list[dict], turns: int, one_session: bool) -> None:
    """`turns` turns of copies of `session`, ending an hour and a half ago (a new session every copy), or ending
    now in one session."""
    copies = turns // len(SCRIPT)
    now = time.time()
    gap = 60.0 if one_session else 2 * 3600.0
    start = now - copies * gap - (0 if one_session else 5400)
    first = min(e["timestamp"] for e in session)
    for number in range(copies):
        shifted = []
        for event in session:
            starts_session = event["event"] == "session_started" or (
                event["event"] == "action" and event.get("name") == "action_session_start")
            if one_session and number and starts_session:
                continue
            moved = copy.deepcopy(event)
            moved["timestamp"] = start + number * gap + (event["timestamp"] - first) / 100
            if moved["event"] == "user":
                moved.setdefault("metadata", {})["message_id"] = f"seed-{number}-{len(shifted)}"
            shifted.append(moved)
        store.append_sync(f"bench:{SENDER}", shifted, "bench", SENDER)


async def measure(store: ConversationStore, turns: int) -> dict:
    engine = Engine(load_domain(DEMO_KB / "domain.yml"), store, InProcessExecutor())
    timings: list[float] = []
    loads: list[float] = []
    original = store.load_sync

    def timed_load(conversation_id: str, message_id: str | None = None):
        started = time.perf_counter()
        try:
            return original(conversation_id, message_id)
        finally:
            loads.append((time.perf_counter() - started) * 1000)

    store.load_sync = timed_load  # type: ignore[method-assign]
    for number in range(turns):
        started = time.perf_counter()
        async for _ in engine.handle(Inbound(SENDER, SCRIPT[number % len(SCRIPT)], "bench")):
            pass
        timings.append((time.perf_counter() - started) * 1000)
    events = len(store.load_all_sync(f"bench:{SENDER}"))
    loaded = len(original(f"bench:{SENDER}"))
    await engine.close()
    return {"turn_p50_ms": percentile(timings, 0.5), "turn_p95_ms": percentile(timings, 0.95),
            "load_p50_ms": percentile(loads, 0.5), "load_p95_ms": percentile(loads, 0.95),
            "events_stored": events, "events_loaded_last_turn": loaded}


async def run(folder: Path, turns: int, measured: int, one_session: bool) -> dict:
    session = await record_session(folder)
    report: dict = {"seeded_turns": turns, "measured_turns": measured,
                    "sessions": "one" if one_session else f"a new session every {len(SCRIPT)} turns"}
    for name, kind in (("before_whole_log", WholeLogStore), ("after_current_session", ConversationStore)):
        store = kind(folder / f"{name}.db")
        seed(store, session, turns, one_session)
        report[name] = await measure(store, measured)
        store.close()
    report.update({"store": "sqlite file (WAL, synchronous=NORMAL)", "actions": "in-process rasa-sdk",
                   "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cpus",
                   "python": platform.python_version()})
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--turns", type=int, default=1500, help="turns already in the conversation")
    parser.add_argument("--measure", type=int, default=100, help="turns timed after them")
    parser.add_argument("--one-session", action="store_true", help="all turns in one session (no session expired)")
    parser.add_argument("--json", type=Path, help="write the report here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        report = asyncio.run(run(Path(folder), args.turns, args.measure, args.one_session))
    print(json.dumps(report, indent=2))
    write_report(args.json, report)


if __name__ == "__main__":
    main()
