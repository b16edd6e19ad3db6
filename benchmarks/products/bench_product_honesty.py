"""Honest product answers on the demo store, through the real engine: a request for a kind the store does not carry
says so; no match within the filters says so and labels every alternative; follow-ups keep the request's kind and
features; "compare X and Y" writes a comparison from the records; required features rank first; a question about one
product gets readable sentences, not a field dump.

Each case of `product_honesty_cases.jsonl` (one or more turns) is sent to `Engine.handle` (demo domain, in-process
rasa-sdk actions, extractive replies, conversations in a temporary SQLite file) and its last reply is judged against
the catalog by the rules below, which read the records themselves (not the search code under test).

    python benchmarks/products/bench_product_honesty.py --json benchmarks/results/products/honesty.json [--nlu]

`--nlu` parses with the demo's newest trained NLU in the test cache (`.shopbot_cache/tests/nlu`, as the tests or
`shopbot train` leave it; the benchmark never trains one); without it the engine runs as a store without a model
does (catalog entities alone).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(os.environ.get("SHOPBOT_ROOT") or Path(__file__).resolve().parents[2])
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

CASES = Path(__file__).with_name("product_honesty_cases.jsonl")
SAYS_NONE = re.compile(r"\b(?:don't|do not|doesn't) (?:carry|sell|stock|have any)\b|\bnone of our\b|\bno (?:products|\w+ )?"
                       r"(?:under|below|over)\b|\bcouldn't find\b", re.I)
SAYS_NOT_CARRIED = re.compile(r"\b(?:don't|do not) (?:carry|sell|stock)\b|\bnot something we (?:carry|sell)\b", re.I)
FIELD_DUMP = re.compile(r"\b(?:weight g|colors|sizes|gender|material):|;.*;.*;", re.I)


def load_cases(path: Path) -> list[dict[str, Any]]:
    cases = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            case = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SystemExit(f"{path}:{number}: not JSON ({exc.msg})") from exc
        for key in ("id", "turns", "expect"):
            if key not in case:
                raise SystemExit(f"{path}:{number}: field '{key}' is missing")
        cases.append(case)
    return cases


# -- judging, from the catalog records ------------------------------------------------------------------------------

def fits(product: dict[str, Any], case: dict[str, Any]) -> bool:
    """Whether a catalog record meets every constraint the case states."""
    attrs = product.get("attributes") or {}
    if case.get("kind") and product.get("subcategory") not in case["kind"]:
        return False
    if case.get("max_price") is not None and product["price"] > case["max_price"]:
        return False
    if case.get("min_price") is not None and product["price"] < case["min_price"]:
        return False
    for key, value in (case.get("attrs") or {}).items():
        if attrs.get(key) != value:
            return False
    if case.get("colors") and not set(case["colors"]) & {str(c).lower() for c in attrs.get("colors") or []}:
        return False
    if case.get("text"):
        text = " ".join([product["title"], product.get("description", ""), " ".join(product.get("tags") or [])])
        if not re.search(case["text"], text, re.I):
            return False
    return True


def judge(case: dict[str, Any], turns: list[dict[str, Any]], catalog: dict[str, dict[str, Any]]) -> tuple[bool, str]:
    """(passed, why) for the case's last reply; `turns` holds each turn's text and cards."""
    last = turns[-1]
    text, cards = last["text"], last["cards"]
    matches = [c for c in cards if not c.get("alternative")]
    wrong = [c["id"] for c in matches if not fits(catalog[c["id"]], case)]
    expect = case["expect"]
    if expect == "no_match_kind":
        if not SAYS_NOT_CARRIED.search(text):
            return False, "does not say the store doesn't carry it"
        return (not matches, f"shows {len(matches)} products as matches") if matches else (True, "")
    if expect == "none_matching":
        if not SAYS_NONE.search(text):
            return False, "does not say nothing matches"
        if wrong:
            return False, f"passes off {wrong} as matches"
        if not cards:
            return False, "offers no alternative"
        return True, ""
    if expect in ("match", "filters_kept"):
        if expect == "filters_kept" and case.get("cheaper_than_previous"):
            before = [c["price"] for c in turns[-2]["cards"]]
            dearer = [c["id"] for c in matches if before and c["price"] >= min(before)]
            if dearer:
                return False, f"{dearer} not cheaper than the last list"
        if wrong:
            return False, f"{wrong} do not fit the request"
        if not matches:
            honest = expect == "filters_kept" and SAYS_NONE.search(text)
            return (True, "") if honest else (False, "no products shown")
        if SAYS_NOT_CARRIED.search(text):
            return False, "says the store doesn't carry it"
        return True, ""
    if expect == "top_has_feature":
        if not cards:
            return False, "no products shown"
        return (True, "") if fits(catalog[cards[0]["id"]], {k: case.get(k) for k in ("attrs", "text")}) else \
            (False, f"the first card {cards[0]['id']} lacks the feature")
    if expect == "comparison":
        ids = case.get("products") or [c["id"] for c in turns[-2]["cards"][: case.get("products_from_previous", 2)]]
        for pid in ids:
            product = catalog[pid]
            if product["title"] not in text or f"${product['price']:.2f}" not in text:
                return False, f"no title and price of {pid} in the comparison"
        attributes = sum(bool(re.search(pattern, text, re.I)) for pattern in
                         (r"\bweight\b", r"\brating\b|/5", r"\bwaterproof\b", r"\bprice\b"))
        return (attributes >= 3, "fewer than 3 attributes compared") if attributes < 3 else (True, "")
    if expect == "readable_answer":
        product = catalog[case["product"]]
        if FIELD_DUMP.search(text):
            return False, "a field dump"
        sentences = [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s]
        if product["title"] not in text or len(sentences) < 2:
            return False, "does not name the product in sentences"
        if case.get("says") and case["says"].lower() not in text.lower():
            return False, f"does not say '{case['says']}'"
        return True, ""
    raise SystemExit(f"case {case['id']}: unknown expectation '{expect}'")


# -- the engine -------------------------------------------------------------------------------------------------------

def build_engine(folder: Path, use_nlu: bool, model: Path | None = None) -> tuple[Any, str]:
    """The demo store's engine: in-process actions on the demo orders, extractive replies, the test cache's index
    (and NLU with `use_nlu`)."""
    from bot.app import build_bot
    from bot.config import load_settings
    from bot.dialogue.store import ConversationStore
    from bot.knowledge import open_store
    from bot.responder.responder import Responder
    from retrieval.embeddings import Embedder
    from tests.support import test_cache_dir

    cache = test_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    settings = load_settings(cache_dir=cache)
    embedder = Embedder(onnx_cache=folder / "models")
    store = open_store(settings, embedder=embedder)
    parser, model_name = None, ""
    if use_nlu:
        from bot.nlu.pipeline import latest_model, load_store_parser

        model = model or latest_model(store.kb, cache)
        if model is None:
            raise SystemExit(f"no trained NLU in {cache / 'nlu'}: run the tests or `shopbot train` first")
        parser, model_name = load_store_parser(store.kb, model), model.name
    bot = build_bot(settings, store, Responder(None), parser, ConversationStore(folder / "conversations.db"))
    return bot.engine, model_name


async def run_case(engine: Any, case: dict[str, Any], run_id: str) -> list[dict[str, Any]]:
    from bot.messages import Inbound

    turns = []
    for text in case["turns"]:
        said, cards = [], []
        async for event in engine.handle(Inbound(f"{run_id}-{case['id']}", text, "bench")):
            if event.type == "message":
                said.append(event.text)
                cards += event.cards
        turns.append({"text": " ".join(t for t in said if t), "cards": cards})
    return turns


async def run(cases: list[dict[str, Any]], use_nlu: bool, model: Path | None = None) -> dict[str, Any]:
    catalog = {json.loads(line)["id"]: json.loads(line) for line in
               (ROOT / "knowledge_base" / "demo" / "catalog.jsonl").read_text(encoding="utf-8").splitlines() if line}
    with tempfile.TemporaryDirectory() as tmp:
        engine, model_name = build_engine(Path(tmp), use_nlu, model)
        results, started = [], time.perf_counter()
        for case in cases:
            turns = await run_case(engine, case, str(os.getpid()))
            passed, why = judge(case, turns, catalog)
            results.append({"id": case["id"], "expect": case["expect"], "passed": passed, "why": why,
                            "reply": turns[-1]["text"], "cards": [{"id": c["id"], "title": c["title"],
                                                                    "price": c["price"], "reason": c.get("reason"),
                                                                    "alternative": bool(c.get("alternative"))}
                                                                   for c in turns[-1]["cards"]]})
        elapsed = time.perf_counter() - started
    by_kind: dict[str, dict[str, Any]] = {}
    totals = Counter(r["expect"] for r in results)
    for kind, count in totals.items():
        passed = sum(r["passed"] for r in results if r["expect"] == kind)
        by_kind[kind] = {"cases": count, "passed": passed, "rate": round(passed / count, 3)}
    passed = sum(r["passed"] for r in results)
    return {"benchmark": "product_honesty", "store": "demo", "nlu": model_name or None, "responder": "extractive",
            "cases": len(results), "passed": passed, "rate": round(passed / len(results), 3), "by_expectation": by_kind,
            "seconds": round(elapsed, 1), "python": platform.python_version(), "results": results}


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    options.add_argument("--cases", type=Path, default=CASES)
    options.add_argument("--json", type=Path, help="write the results here")
    options.add_argument("--nlu", action="store_true", help="parse with the demo's trained NLU (test cache)")
    options.add_argument("--nlu-model", type=Path, help="this trained NLU folder instead of the newest one")
    args = options.parse_args()
    report = asyncio.run(run(load_cases(args.cases), args.nlu or args.nlu_model is not None, args.nlu_model))
    for row in report["results"]:
        if not row["passed"]:
            print(f"FAIL {row['id']}: {row['why']} | {row['reply'][:160]}")
    for kind, row in sorted(report["by_expectation"].items()):
        print(f"{kind:18s} {row['passed']:3d}/{row['cases']:<3d} {row['rate']:.3f}")
    print(f"all                {report['passed']:3d}/{report['cases']:<3d} {report['rate']:.3f}  ({report['seconds']} s)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
