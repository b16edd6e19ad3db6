"""Engine overhead per turn with the models left out, and the time to commit a turn's events.

Drives the real engine (demo domain, in-process rasa-sdk actions on the demo SQLite order back-end, conversation
events in a SQLite file) with button payloads instead of NLU and with template or action replies only, so what is
timed is the dialogue machinery: lock, load, policy, forms, actions, events and the commit.

    python benchmarks/dialogue/bench_engine.py --conversations 200 --json benchmarks/results/dialogue/engine.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from actions.services import set_backend  # noqa: E402
from actions.store_backend import SqliteStoreBackend  # noqa: E402
from bot.config import DEMO_KB  # noqa: E402
from bot.dialogue.domain import load_domain  # noqa: E402
from bot.dialogue.executor import InProcessExecutor  # noqa: E402
from bot.dialogue.store import ConversationStore  # noqa: E402
from bot.engine import Engine  # noqa: E402
from bot.messages import Inbound  # noqa: E402
from bot.reporting import percentile, write_report  # noqa: E402

SCRIPT = ["/greet", '/order_status{"order_id": "10445"}', '/inform{"email": "avery_singh86@example.org"}',
          "/track_shipment", '/cancel_order{"order_id": "10453"}', '/inform{"email": "ifischer@example.com"}',
          "/deny", "/help", "/thanks", "/goodbye"]


class TimedStore(ConversationStore):
    """The SQLite store, recording how long each load and each turn's commit takes."""

    loads: list[float] = []
    commits: list[float] = []

    def load_sync(self, conversation_id: str, message_id: str | None = None):
        started = time.perf_counter()
        try:
            return super().load_sync(conversation_id, message_id)
        finally:
            self.loads.append((time.perf_counter() - started) * 1000)

    def append_sync(self, *args, **kwargs):
        started = time.perf_counter()
        try:
            return super().append_sync(*args, **kwargs)
        finally:
            self.commits.append((time.perf_counter() - started) * 1000)


async def run(conversations: int, folder: Path, database: str = "") -> dict:
    set_backend(SqliteStoreBackend.from_orders_file(DEMO_KB / "orders.json", folder / "orders.db"))
    store = TimedStore(database or folder / "conversations.db")
    engine = Engine(load_domain(DEMO_KB / "domain.yml"), store, InProcessExecutor())
    run_id = os.getpid()  # fresh conversations when the database is a shared one
    turns: list[float] = []
    events_per_turn: list[int] = []
    for warm in range(3):  # imports, connections, first queries
        async for _ in engine.handle(Inbound(f"warm-{warm}", "/greet", "bench")):
            pass
    TimedStore.loads.clear()
    TimedStore.commits.clear()
    for number in range(conversations):
        for text in SCRIPT:
            before = len(store.commits)
            started = time.perf_counter()
            async for _ in engine.handle(Inbound(f"shopper-{number}-{run_id}", text, "bench")):
                pass
            turns.append((time.perf_counter() - started) * 1000)
            assert len(store.commits) == before + 1
        tracker = await engine.tracker(f"bench:shopper-{number}-{run_id}")
        events_per_turn.append(len(tracker.events) / len(SCRIPT))
        set_backend(SqliteStoreBackend.from_orders_file(DEMO_KB / "orders.json"))  # 10453 uncancelled again
    await engine.close()
    return {"turns": len(turns), "conversations": conversations, "turn_p50_ms": percentile(turns, 0.5),
            "turn_p95_ms": percentile(turns, 0.95), "turn_p99_ms": percentile(turns, 0.99),
            "commit_p50_ms": percentile(TimedStore.commits, 0.5), "commit_p95_ms": percentile(TimedStore.commits, 0.95),
            "load_p50_ms": percentile(TimedStore.loads, 0.5),
            "events_per_turn": round(sum(events_per_turn) / len(events_per_turn), 1),
            "store": store.engine.dialect.name + ("" if database else " file (WAL, synchronous=NORMAL)"), "actions": "in-process rasa-sdk ActionExecutor",
            "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cpus",
            "python": platform.python_version()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--database", default="", help="a SQLAlchemy URL (default: a SQLite file in a temp folder)")
    parser.add_argument("--json", type=Path, help="write the report here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        report = asyncio.run(run(args.conversations, Path(folder), args.database))
    print(json.dumps(report))
    write_report(args.json, report)


if __name__ == "__main__":
    main()
