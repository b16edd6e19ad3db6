"""Benchmark `shopbot write descriptions` on the demo store: unsupported facts (by the independent check in
`independent_check.py`, not the tracer that chose the sentences), attribute coverage and seconds per product.

Two paths: the fact templates alone for every product (`--no-lm`), and the LM (SmolLM2-135M on llama.cpp, the
project's default engine) writing candidates for an evenly spread sample (every k-th product; all with
`--sample 0`), with a few campaign drafts checked the same way.

    .venv/bin/python benchmarks/writing/bench_descriptions.py --sample 34
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks.writing.independent_check import Store, check  # noqa: E402
from bot.config import DEMO_KB, load_settings  # noqa: E402
from bot.writing.campaign import CampaignWriter  # noqa: E402
from bot.writing.descriptions import DescriptionWriter  # noqa: E402
from retrieval.loaders import load_knowledge_base  # noqa: E402

SEGMENTS = ["bought a tent in the last 90 days", "viewed running shoes in the last 30 days",
            "added a rain jacket to their cart", "customers in the last 90 days"]
CAMPAIGN_AS_OF = datetime(2026, 11, 23, tzinfo=UTC)


def _summary(rows: list[dict], seconds_key: str = "seconds") -> dict:
    seconds = sorted(r[seconds_key] for r in rows)
    return {"products": len(rows),
            "unsupported_facts": sum(len(r["unsupported"]) for r in rows),
            "products_with_unsupported": sum(bool(r["unsupported"]) for r in rows),
            "attribute_coverage_mean": round(statistics.mean(r["coverage"] for r in rows), 4),
            "attribute_coverage_min": min(r["coverage"] for r in rows),
            "attributes_total": sum(len(r["attributes"]) for r in rows),
            "attributes_mentioned": sum(len(r["mentioned"]) for r in rows),
            "seconds_per_product_mean": round(statistics.mean(seconds), 4),
            "seconds_per_product_p50": round(seconds[len(seconds) // 2], 4),
            "seconds_per_product_p95": round(seconds[min(len(seconds) - 1, int(len(seconds) * 0.95))], 4),
            "sentences": sum(r["sentences"] for r in rows),
            "lm_sentences": sum(r["lm_sentences"] for r in rows),
            "lm_candidates": sum(r["lm_candidates"] for r in rows),
            "lm_candidates_dropped_unsupported": sum(r["dropped"] for r in rows)}


async def _run(writer: DescriptionWriter, products: list, store: Store, label: str) -> list[dict]:
    rows = []
    for i, product in enumerate(products, start=1):
        draft = await writer.write(product)
        verdict = check(draft.text, product.id, store)
        data = draft.to_dict()
        rows.append({"product_id": product.id, "seconds": round(draft.seconds, 4), "text": draft.text,
                     "unsupported": verdict["unsupported"], "coverage": verdict["coverage"],
                     "attributes": verdict["attributes"], "mentioned": verdict["mentioned"],
                     "writer_coverage": data["coverage"]["share"], "sentences": len(draft.sentences),
                     "lm_sentences": data["lm_sentences"], "lm_candidates": data["lm_candidates"],
                     "dropped": len(draft.dropped)})
        if i % 10 == 0 or i == len(products):
            print(f"{label}: {i}/{len(products)} products, {draft.seconds:.2f}s the last", file=sys.stderr, flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sample", type=int, default=34, help="LM path on every k-th product to reach this many "
                        "(0: all products)")
    parser.add_argument("--candidates", type=int, default=2, help="LM candidates per sentence")
    parser.add_argument("--threads", type=int, default=0, help="llama.cpp threads (0: the setting's default)")
    parser.add_argument("--no-lm", action="store_true", help="the template path only")
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks/results/writing/descriptions.json")
    args = parser.parse_args()

    kb = load_knowledge_base(DEMO_KB)
    store = Store.load(DEMO_KB)
    report: dict = {"store": kb.name, "catalog_products": len(kb.products), "machine": {
        "cpus": os.cpu_count(), "platform": platform.platform(), "load_average_at_start": os.getloadavg()},
        "command": " ".join(["benchmarks/writing/bench_descriptions.py"] + sys.argv[1:]),
        "check": "benchmarks/writing/independent_check.py (raw catalog, store.yml and reviews; not the tracer)"}

    started = time.perf_counter()
    rows = asyncio.run(_run(DescriptionWriter(kb, None), list(kb.products), store, "templates"))
    report["templates_all_products"] = {**_summary(rows), "wall_seconds": round(time.perf_counter() - started, 2)}
    report["templates_rows"] = rows

    if not args.no_lm:
        from bot.generation.factory import open_generator

        settings = load_settings(None)
        options = settings.responder.model_copy(update={"threads": args.threads}) if args.threads else settings.responder
        generator = open_generator(options, "cpu", settings.cache_dir)
        step = 1 if args.sample <= 0 else max(1, math.ceil(len(kb.products) / args.sample))
        sample = kb.products[::step]
        report["lm"] = {"engine": generator.name, "model": generator.model, "threads": args.threads or "all cores",
                        "candidates": args.candidates, "sample": f"every {step}th product from the first "
                        f"({len(sample)} of {len(kb.products)})" if step > 1 else "all products"}
        started = time.perf_counter()
        writer = DescriptionWriter(kb, generator, args.candidates)
        lm_rows = asyncio.run(_run(writer, sample, store, "lm"))
        report["lm"].update({**_summary(lm_rows), "wall_seconds": round(time.perf_counter() - started, 2)})
        report["lm_rows"] = lm_rows
        from actions.order_records import read_orders

        orders, _ = read_orders(DEMO_KB / "orders.json")
        campaigns = []
        campaign_writer = CampaignWriter(kb, orders, generator, args.candidates)
        for segment in SEGMENTS:
            began = time.perf_counter()
            draft = asyncio.run(campaign_writer.write(segment, as_of=CAMPAIGN_AS_OF))
            text = (draft.subject.text + ". " if draft.subject else "") + draft.text
            verdict = check(text, draft.products[0].id, store)
            campaigns.append({"segment": segment, "understood": draft.segment.describe(),
                              "matching_customers": draft.audience.total, "product": draft.products[0].id,
                              "subject": draft.subject.text if draft.subject else "", "message": draft.text,
                              "unsupported": verdict["unsupported"], "dropped": len(draft.dropped),
                              "seconds": round(time.perf_counter() - began, 3)})
        report["campaigns"] = campaigns
        generator.close()

    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    brief = {k: v for k, v in report.items() if not k.endswith("_rows") and k != "campaigns"}
    print(json.dumps(brief, indent=2))
    for campaign in report.get("campaigns", []):
        print(json.dumps({k: campaign[k] for k in ("segment", "matching_customers", "unsupported", "dropped")}))


if __name__ == "__main__":
    main()
