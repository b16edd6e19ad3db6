"""Replay a scripted mix of demo conversations through the real engine, then time the owner's report on them.

The engine is the demo store's own (`bot.app.build_bot`: the trained NLU, the index, in-process rasa-sdk actions on
the demo orders, extractive replies, conversation events in a SQLite file). Each conversation is drawn from a mix:
FAQ questions, order checks (the order number and its email), product searches and "cheaper?", asking for a
person, angry messages (a person offered, sometimes taken), questions the store cannot answer (several phrasings
of a few missing topics, some with an email or a phone number in them), vague messages, greetings; many end with
a thumbs up or down, stored through the same `FeedbackIntake.record` the channels use. Timestamps are spread over
`--days` days. The NLU's parse and the index's search of each distinct text are computed once and reused (the
models are deterministic), so 500 conversations take seconds, not minutes.

    python benchmarks/analytics/replay_demo.py --conversations 500 --json benchmarks/results/analytics/replay_500.json
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import os
import platform
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

END = 1_795_435_200.0      # 2026-11-23 12:00 UTC (the demo orders' "today")
DAY = 86_400.0

FAQ = ["do you ship to Canada?", "how long do refunds take?", "what payment methods do you accept?",
       "how much is shipping?", "do you offer free shipping?", "can I return something I bought on sale?",
       "how long is the return window?", "which carriers do you use?", "do you price match?",
       "is there a warranty on jackets?", "can I pay with PayPal?", "how do I use a promo code?",
       "when will my refund show up on my card?", "do you ship to the UK?", "how long does standard shipping take?"]
PRODUCTS = ["running shoes under $150", "a waterproof jacket for hiking", "show me tents for 4 people",
            "winter boots in size 9", "a backpack for day hikes under $100", "trail running shoes in blue"]
FOLLOW_UPS = ["cheaper?", "anything more premium?", "in black?"]
PERSON = ["I want to talk to a person", "can I speak to a human please", "get me a real agent",
          "connect me with customer service staff"]
ANGRY = ["this is ridiculous, my order is late again and nobody answers my emails!!",
         "I am so angry, you sent me the wrong size twice, this is the worst service ever",
         "absolutely terrible experience, I want my money back now",
         "I'm furious, the boots fell apart after one week, what a scam"]
# topics the demo store has no answer for (or one its NLU does not place): several phrasings each, what the
# clusters should group; some carry an email or a phone number (which the report must not show)
MISSING = {
    "jobs": ["are you hiring right now?", "is your company hiring?", "do you have job openings?",
             "any job openings at your company?", "can I apply for a job with you?",
             "how do I apply for a job at your company?", "email me at jo.smith@example.com about job openings"],
    "rentals": ["do you rent kayaks?", "do you do kayak rentals?", "is there a kayak rental?",
                "can I rent a kayak for the weekend?", "can you call me at 415-555-0142 about renting a kayak?"],
    "lessons": ["can I book a kayaking lesson?", "do you offer kayaking lessons?", "do you teach kayaking classes?",
                "are there kayak lessons for beginners?"],
    "gift wrap": ["do you offer gift wrapping?", "is gift wrapping available?", "can you gift wrap my order?"],
    "repairs": ["can you fix a torn tent?", "do you repair tents?", "can I get my tent repaired?"],
}
VAGUE = ["the thing", "hmm about that one", "what about the other", "so yeah", "ok but the blue"]
THANKS = ["thanks", "thank you, that's all", "great, thanks!"]
GREET, BYE = ["hi", "hello there"], ["bye", "goodbye"]


def demo_orders(limit: int = 30) -> list[tuple[str, str]]:
    """(order number, email) of the first demo orders."""
    orders = json.loads((ROOT / "knowledge_base" / "demo" / "orders.json").read_text())["orders"]
    return [(o["id"], o["email"]) for o in orders[:limit]]


def script(rng: random.Random, orders: list[tuple[str, str]]) -> tuple[str, list[str], str | None]:
    """One conversation: its kind, its messages and its rating (None: not rated)."""
    kind = rng.choices(["faq", "order", "product", "person", "angry", "missing", "vague", "greet"],
                       weights=[26, 16, 14, 7, 9, 16, 6, 6])[0]
    pick = rng.choice
    if kind == "faq":
        messages = rng.sample(FAQ, rng.choice([1, 1, 2])) + ([pick(THANKS)] if rng.random() < 0.6 else [])
        good = 0.85
    elif kind == "order":
        number, email = pick(orders)
        messages = [pick(["where is my order?", "what's the status of my order?", "has my order shipped?"]),
                    number, email] + ([pick(THANKS)] if rng.random() < 0.5 else [])
        good = 0.8
    elif kind == "product":
        messages = [pick(PRODUCTS)] + ([pick(FOLLOW_UPS)] if rng.random() < 0.6 else [])
        good = 0.75
    elif kind == "person":
        messages = [pick(PERSON)] + (["hello? anyone there?"] if rng.random() < 0.4 else [])
        good = 0.6
    elif kind == "angry":
        messages = [pick(ANGRY)] + [pick(["/human_handoff", "/human_handoff", "no thanks"])]
        good = 0.2
    elif kind == "missing":
        topic = pick(sorted(MISSING))
        asked = rng.sample(MISSING[topic], min(len(MISSING[topic]), rng.choice([1, 2, 2])))
        messages = asked + (["/human_handoff"] if len(asked) == 2 and rng.random() < 0.5 else [])
        good = 0.25
    elif kind == "vague":
        messages = [pick(VAGUE)] + ([pick(FAQ)] if rng.random() < 0.5 else [])
        good = 0.5
    else:
        messages = [pick(GREET), pick(BYE)]
        good = 0.7
    rating = (("up" if rng.random() < good else "down") if rng.random() < 0.55 else None)
    return kind, messages, rating


class MemoParser:
    """The NLU with each distinct text parsed once (the model is deterministic); copies handed out."""

    def __init__(self, parser: Any):
        self.parser = parser
        self.cache: dict[str, dict[str, Any]] = {}

    @property
    def extractor(self) -> Any:
        return self.parser.extractor

    @property
    def intents(self) -> Any:
        return self.parser.intents

    async def parse_async(self, text: str) -> dict[str, Any]:
        if text not in self.cache:
            self.cache[text] = await self.parser.parse_async(text)
        return copy.deepcopy(self.cache[text])


def memoise_models(engine: Any) -> None:
    """The engine's NLU parses and knowledge searches computed once per distinct text."""
    if engine.parser is not None:
        memo = MemoParser(engine.parser)
        engine.parser = engine.understander.parser = memo
    if engine.answerer is not None:
        search = engine.answerer.search_async
        found: dict[str, list[Any]] = {}

        async def memo_search(question: str) -> list[Any]:
            if question not in found:
                found[question] = await search(question)
            return list(found[question])

        engine.answerer.search_async = memo_search


async def replay(engine: Any, record: Callable[..., Any], conversations: int = 500, seed: int = 7,
                 days: int = 28, end: float = END) -> dict[str, Any]:
    """Drive `conversations` scripted conversations through `engine` (`record(conversation_id, rating, channel,
    sender_id, timestamp)` stores a rating); what was played, by kind."""
    from bot.messages import Inbound

    rng = random.Random(seed)
    orders = demo_orders()
    kinds: Counter[str] = Counter()
    ratings: Counter[str] = Counter()
    turns = 0
    for number in range(conversations):
        kind, messages, rating = script(rng, orders)
        kinds[kind] += 1
        sender = f"replay-{seed}-{number:05d}"
        now = end - days * DAY + rng.random() * days * DAY
        for index, text in enumerate(messages):
            message = Inbound(sender, text, "web", message_id=f"{sender}-{index}", timestamp=now)
            async for _ in engine.handle(message):
                pass
            turns += 1
            now += rng.uniform(15, 90)
        if rating is not None:
            await record(f"web:{sender}", rating, "web", sender, now)
            ratings[rating] += 1
    return {"conversations": conversations, "turns": turns, "kinds": dict(kinds.most_common()),
            "ratings": dict(ratings)}


def build_demo_bot(cache: Path, data: Path, nlu: Path | None = None) -> Any:
    """The demo store's bot with its trained NLU (`nlu`, else the store's, trained into `cache` when missing),
    extractive replies and a SQLite conversation store in `data`."""
    from actions.services import set_backend
    from actions.store_backend import SqliteStoreBackend
    from bot.app import build_bot
    from bot.config import DEMO_KB, Settings, load_settings
    from bot.dialogue.store import ConversationStore
    from bot.knowledge import open_store
    from bot.nlu.pipeline import load_store_parser, train_store_nlu
    from bot.responder.responder import Responder
    from retrieval.embeddings import Embedder

    embedder = Embedder(onnx_cache=cache / "models-replay")
    knowledge = open_store(load_settings(cache_dir=cache), embedder=embedder)
    folder = nlu or train_store_nlu(knowledge.kb, cache)[0]
    parser = load_store_parser(knowledge.kb, folder)
    set_backend(SqliteStoreBackend.from_orders_file(DEMO_KB / "orders.json", data / "orders.db"))
    settings = Settings(cache_dir=cache, data_dir=data)
    return build_bot(settings, knowledge, Responder(None), parser, ConversationStore(data / "conversations.db"))


async def run(conversations: int, seed: int, cache: Path, data: Path, nlu: Path | None = None) -> dict[str, Any]:
    from bot.analytics.clusters import index_embed, index_nearest
    from bot.analytics.feedback import FeedbackIntake
    from bot.analytics.report import build_report
    from bot.channels.guard import ChannelGuard
    from bot.config import ServerSettings

    bot = build_demo_bot(cache, data, nlu)
    engine = bot.engine
    memoise_models(engine)
    intake = FeedbackIntake(engine, ChannelGuard(ServerSettings()))
    started = time.perf_counter()
    played = await replay(engine, intake.record, conversations, seed)
    replay_s = time.perf_counter() - started
    index = bot.knowledge.index
    index.search("warm up", k=1)
    started = time.perf_counter()
    report = build_report(engine.store, embed=index_embed(index), nearest=index_nearest(index))
    report_s = time.perf_counter() - started
    await engine.close()
    f = report["figures"]
    return {"played": played, "replay_s": round(replay_s, 2), "report_s": round(report_s, 3),
            "report_count_s": report["seconds"]["count"], "report_cluster_s": report["seconds"]["cluster"],
            "figures": {k: f[k] for k in ("conversations", "messages", "resolved", "resolution_rate", "handoffs",
                                           "fallbacks", "negative_messages", "csat", "unanswered")},
            "nlu": nlu.name if nlu is not None else "the store's, for its current data",
            "question_groups": [{"question": q["question"], "asked": q["asked"], "phrasings": q["phrasings"],
                                 "nearest_source": q["nearest_source"]} for q in report["questions"][:10]],
            "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cpus",
            "python": platform.python_version()}


def main() -> None:
    from bot.reporting import write_report
    from tests.support import test_cache_dir

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--conversations", type=int, default=500)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cache", type=Path, default=None, help="models and index (default: the tests' cache)")
    parser.add_argument("--nlu", type=Path, default=None, help="a trained NLU model folder (default: the store's, "
                                                               "trained when missing)")
    parser.add_argument("--keep", type=Path, default=None, help="keep the conversation store in this folder")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    cache = args.cache or test_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        data = args.keep or Path(scratch)
        data.mkdir(parents=True, exist_ok=True)
        results = asyncio.run(run(args.conversations, args.seed, cache, data, args.nlu))
    print(json.dumps(results, indent=2))
    write_report(args.json, results)


if __name__ == "__main__":
    main()
