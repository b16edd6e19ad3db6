"""Review answers on the demo store: every question of `review_questions.jsonl` (written from the demo data's
generator by make_review_questions.py) asked through the real engine (the demo's trained NLU, the in-process
actions, the reply LM writing the summaries), scored on the expected facts (the product, the focus, counts, the
page's claims and the contradictions named or rightly not named) and on the LM's text: every number, name or claim
in a summary sentence that the product's reviews do not hold is counted as unsupported.

    python benchmarks/reviews/bench_review_answers.py                      # SmolLM2 summaries (llama.cpp, CPU)
    python benchmarks/reviews/bench_review_answers.py --responder extractive   # counts and quotes only
    python benchmarks/reviews/bench_review_answers.py --cache-dir .shopbot_cache/tests  # the tests' trained NLU
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

HERE = Path(__file__).resolve().parent
RESULTS = HERE.parents[0] / "results" / "reviews"


def check(fact: dict, text: str, data: dict) -> bool:
    """Whether the answer states the expected fact."""
    kind, value = fact["fact"], fact["value"]
    if kind == "product":
        return data.get("product") == value
    if kind == "focus":
        return data.get("focus") == value
    if kind == "total":
        return re.search(rf"\bhas {value} reviews?\b", text) is not None
    if kind == "positive":
        return re.search(rf"\b{value[0]} of {value[1]} \(\d+%\) are positive\b", text) is not None
    if kind == "negative":
        return re.search(rf"\band {value} negative\b", text) is not None
    if kind == "negative_of":
        return re.search(rf"\b{value[0]} of the {value[1]} reviews of the .+? are negative\b", text) is not None
    if kind == "fit_mentions":
        return (re.search(rf"\b{value} mention fit\b", text) is not None if value
                else "mention fit or sizing" in text)
    if kind == "runs_small":
        return re.search(rf"\b{value} say it runs small\b", text) is not None or (value == 0 and "mention fit or "
                                                                                                "sizing" in text)
    if kind == "leaks":
        return re.search(rf"\b{value} report leaks\b", text) is not None
    if kind == "page_waterproof":
        said = "is waterproof." if value is True else "is not waterproof." if value is False else "does not say"
        return said in text
    if kind == "leak_contradiction":
        if value is None:
            return "reviewers report leaks" not in text
        return f"The page says waterproof; {value[0]} of {value[1]} reviewers report leaks." in text
    if kind == "fit_contradiction":
        if value is None:
            return "reviewers say it runs small" not in text
        return re.search(rf"; {value[0]} of {value[1]} reviewers say it runs small\.", text) is not None
    raise ValueError(f"unknown fact {kind!r}")


async def ask_all(engine, questions: list[dict]) -> list[dict]:
    from bot.messages import Inbound

    async def say(sender: str, text: str) -> list:
        return [event async for event in engine.handle(Inbound(sender, text, "bench"))]

    rows = []
    for question in questions:
        sender = f"bench-{question['id']}"
        if question.get("setup"):
            await say(sender, question["setup"])
        started = time.perf_counter()
        events = await say(sender, question["question"])
        elapsed = (time.perf_counter() - started) * 1000
        messages = [e for e in events if e.type == "message"]
        text = messages[-1].text if messages else ""
        data = (messages[-1].data.get("reviews") or {}) if messages else {}
        rows.append({"question": question, "text": text, "data": data, "ms": elapsed})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=Path, default=HERE / "review_questions.jsonl")
    parser.add_argument("--responder", choices=("generate", "extractive"), default="generate",
                        help="generate: the reply LM writes the summaries (SmolLM2 by default); extractive: none")
    parser.add_argument("--json", type=Path, default=None, help="where the results go")
    parser.add_argument("--finetune", action="store_true", help="tune the embedder on the FAQ first, as serving does "
                                                                 "(review answers do not use retrieval)")
    parser.add_argument("--cache-dir", type=Path, default=None, help="the cache with the index and NLU (default: the "
                                                                    "settings' cache_dir; trained there when missing)")
    args = parser.parse_args()

    from actions.services import set_recommender
    from bot.app import build_bot, load_responder
    from bot.config import load_settings
    from bot.dialogue.executor import InProcessExecutor
    from bot.dialogue.store import ConversationStore
    from bot.knowledge import open_store
    from bot.nlu.pipeline import load_store_parser, train_store_nlu
    from bot.responder.evaluation import ungrounded_facts

    # review answers use no retrieval: the base embedder (no FAQ tuning) opens the store faster
    settings = load_settings(cache_dir=args.cache_dir, finetune={"enabled": args.finetune})
    settings.responder.mode = args.responder
    store = open_store(settings)
    folder, _, _ = train_store_nlu(store.kb, settings.cache_dir)
    nlu = load_store_parser(store.kb, folder)
    responder = load_responder(settings, store.kb)
    questions = [json.loads(line) for line in args.questions.read_text(encoding="utf-8").splitlines() if line.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        bot = build_bot(settings, store, responder, nlu, ConversationStore(Path(tmp) / "c.db"), InProcessExecutor())
        started = time.perf_counter()
        bot.reviews.insights()
        scoring_s = time.perf_counter() - started
        rows = asyncio.run(ask_all(bot.engine, questions))
    set_recommender(None)

    names = list(responder.names)
    expected = correct = 0
    wrong: list[dict] = []
    unsupported: list[dict] = []
    summaries = summary_sentences = 0
    for row in rows:
        question, text, data = row["question"], row["text"], row["data"]
        for fact in question["expected"]:
            expected += 1
            if check(fact, text, data):
                correct += 1
            else:
                wrong.append({"id": question["id"], "fact": fact, "answer": text})
        summary = data.get("summary") or []
        summaries += bool(summary)
        summary_sentences += len(summary)
        support = [r.text for r in store.kb.reviews_for(question["product_id"])] + \
            [store.kb.product(question["product_id"]).title]
        for sentence in summary:
            facts = ungrounded_facts(sentence, support, names, question["question"])
            if facts:
                unsupported.append({"id": question["id"], "sentence": sentence, "unsupported": facts})
    times = sorted(r["ms"] for r in rows)
    report = {
        "questions": len(rows), "facts": expected, "facts_correct": correct,
        "fact_accuracy": round(correct / expected, 4) if expected else 0.0,
        "summaries_written": summaries, "summary_sentences": summary_sentences,
        "unsupported_in_lm_text": len(unsupported), "responder": responder.describe(),
        "sentiment_scorer": bot.reviews.insights().analysis.scorer, "review_scoring_s": round(scoring_s, 2),
        "answer_ms_p50": round(times[len(times) // 2], 1), "answer_ms_p95": round(times[int(len(times) * 0.95) - 1], 1),
        "machine": f"{platform.machine()} {platform.python_version()}",
        "wrong": wrong, "unsupported": unsupported,
        "samples": [{"q": r["question"]["question"], "a": r["text"]} for r in rows[:: max(1, len(rows) // 8)]],
    }
    out = args.json or RESULTS / f"review_answers_{args.responder}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"{report['questions']} questions, {expected} facts: fact accuracy {report['fact_accuracy']:.3f} "
          f"({correct}/{expected}); LM summaries {summaries} ({summary_sentences} sentences), unsupported "
          f"{len(unsupported)}; p50 {report['answer_ms_p50']} ms; {report['responder']} -> {out}")
    for item in wrong[:10]:
        print("  wrong:", item["id"], item["fact"], "|", item["answer"][:200])
    for item in unsupported[:10]:
        print("  unsupported:", item)


if __name__ == "__main__":
    main()
