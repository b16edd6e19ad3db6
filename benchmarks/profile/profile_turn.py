"""Where one FAQ turn's time goes: the engine on the demo store (trained NLU, extractive replies), profiled with
pyinstrument over many questions, plus a stage-by-stage timing of the same turns.

    python benchmarks/profile/profile_turn.py --questions 200 --html benchmarks/results/profile/faq_turn.html \
        --json benchmarks/results/profile/faq_turn.json
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bot.app import build_bot, load_responder, warm_up  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.dialogue.store import ConversationStore  # noqa: E402
from bot.knowledge import open_store  # noqa: E402
from bot.messages import Inbound  # noqa: E402
from bot.nlu.pipeline import latest_model, load_store_parser  # noqa: E402
from bot.reporting import percentile, write_report  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--html", type=Path, help="write pyinstrument's report here")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with (ROOT / "benchmarks" / "retrieval" / "demo_paraphrases.csv").open(encoding="utf-8") as handle:
        questions = [row["query"] for row in csv.DictReader(handle)][: args.questions]
    settings = load_settings(responder={"mode": "extractive"})
    knowledge = open_store(settings)
    folder = latest_model(knowledge.kb, settings.cache_dir)
    if folder is None:
        raise SystemExit("train the demo NLU first: shopbot train")
    nlu = load_store_parser(knowledge.kb, folder)
    with tempfile.TemporaryDirectory() as data:
        bot = build_bot(settings, knowledge, load_responder(settings, knowledge.kb), nlu,
                        store=ConversationStore(Path(data) / "c.db"))
        warm_up(bot)
        stages: dict[str, list[float]] = {"nlu_parse": [], "retrieval_search": [], "whole_turn": []}
        for question in questions:  # the stages alone, outside the engine
            started = time.perf_counter()
            nlu.parse(question)
            stages["nlu_parse"].append(time.perf_counter() - started)
            started = time.perf_counter()
            bot.engine.answerer.search(question)
            stages["retrieval_search"].append(time.perf_counter() - started)

        async def turns() -> None:
            for number, question in enumerate(questions):
                started = time.perf_counter()
                async for _ in bot.engine.handle(Inbound(f"p{number}", question, "profile")):
                    pass
                stages["whole_turn"].append(time.perf_counter() - started)

        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0005, async_mode="enabled")
        profiler.start()
        asyncio.run(turns())
        profiler.stop()
        if args.html:
            args.html.parent.mkdir(parents=True, exist_ok=True)
            args.html.write_text(profiler.output_html(), encoding="utf-8")
        print(profiler.output_text(unicode=False, color=False, show_all=False)[:6000])
    report = {name: {"p50_ms": round(percentile(v, 0.5) * 1000, 2), "mean_ms": round(sum(v) / len(v) * 1000, 2)}
              for name, v in stages.items()}
    report["questions"] = len(questions)
    report["note"] = ("nlu_parse and retrieval_search are timed alone; whole_turn is the engine's turn under the "
                      "profiler (the two stages run in worker threads inside it)")
    print(json.dumps(report))
    write_report(args.json, report)


if __name__ == "__main__":
    main()
