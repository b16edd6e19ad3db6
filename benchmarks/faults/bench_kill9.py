"""kill -9 of a real `shopbot serve` in the middle of turns, N times, with shoppers talking to it without pause
(order look-ups through the order form, streamed FAQ answers over REST `?stream=true`); after each kill it is
started again on the same data. Then conversations.db is compared with what every shopper saw:

    python benchmarks/faults/bench_kill9.py --kills 20 --json benchmarks/results/faults/kill9_20.json

Target: 0 lost (a reply a shopper saw that the store does not hold), 0 duplicated (a message stored twice),
0 unanswered (a message sent again after a crash that the store never answered). tests/faults/test_kill9.py runs
the same with 2 kills.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bot.reporting import write_report  # noqa: E402
from tests.faults.harness import kill9_run  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--acks-between", type=int, default=12, help="replies between two kills")
    parser.add_argument("--json", type=Path, help="write the report here")
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="shopbot-kill9-") as folder:
        report = kill9_run(Path(folder), args.kills, args.acks_between)
    report["wall_s"] = round(time.perf_counter() - started, 1)
    print(json.dumps({k: (len(v) if isinstance(v, list) else v) for k, v in report.items()}))
    if args.json:
        write_report(args.json, report)
    return 0 if not (report["lost"] or report["duplicated"] or report["unanswered"] or report["unexpected"]) else 1


if __name__ == "__main__":
    sys.exit(main())
