"""Write the review-answer benchmark's questions (`review_questions.jsonl`) from the demo data's generator: it
re-runs `scripts/build_demo_store.py`'s catalog and review generators (deterministic, their own seeds) and takes
each expected fact from what the generator planted (stars, aspects, leak and runs-small reviews), never from the
bot's answers.

    python benchmarks/reviews/make_review_questions.py
"""

from __future__ import annotations

import importlib.util
import json
import random
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent / "review_questions.jsonl"
SEED = 60
OVERVIEW = ["what do people say about the {t}?", "what are the reviews like for the {t}", "how is the {t} reviewed?",
            "what do customers think of the {t}"]
FIT = ["is the {t} true to size?", "does the {t} run small?", "should I size up in the {t}?"]
WATERPROOF = ["is the {t} really waterproof?", "do reviewers say the {t} leaks?", "is the {t} actually waterproof"]
COMPLAINTS = ["any complaints about the {t}?", "what do people complain about with the {t}?"]
FOLLOW_UP = {"fit": "is it true to size?", "waterproofing": "is it really waterproof?",
             "overview": "what do people say about it?"}


def generator():
    spec = importlib.util.spec_from_file_location("build_demo_store", ROOT / "scripts" / "build_demo_store.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    catalog = module.build_catalog(random.Random(module.SEED))
    reviews = module.build_reviews(random.Random(module.REVIEWS_SEED), catalog)
    return catalog, reviews


def truth(catalog: list[dict], reviews: list[dict]) -> dict[str, dict]:
    """Per product: what the generator wrote."""
    out: dict[str, dict] = {p["id"]: {"product": p, "stars": [], "aspects": Counter(), "claims": Counter()}
                            for p in catalog}
    for review in reviews:
        row = out[review["product_id"]]
        row["stars"].append(review["rating"])
        row["aspects"].update({aspect for aspect, _ in review["_truth"] if aspect})
        if review["_claim"]:
            row["claims"][review["_claim"]] += 1
    return out


def facts(row: dict, focus: str) -> list[dict]:
    stars, claims = row["stars"], row["claims"]
    n, product = len(stars), row["product"]
    positive, negative = sum(s >= 4 for s in stars), sum(s <= 2 for s in stars)
    out = [{"fact": "product", "value": product["id"]}, {"fact": "focus", "value": focus}]
    leaky, small = claims["waterproof"], claims["runs_small"]
    if focus == "overview":
        out += [{"fact": "total", "value": n}, {"fact": "positive", "value": [positive, n]},
                {"fact": "negative", "value": negative}]
    if focus == "complaints":
        out += [{"fact": "negative_of", "value": [negative, n]}]
    if focus == "fit":
        out += [{"fact": "fit_mentions", "value": row["aspects"]["fit"]}, {"fact": "runs_small", "value": small}]
    if focus == "waterproofing":
        out += [{"fact": "page_waterproof", "value": product["attributes"].get("waterproof")},
                {"fact": "leaks", "value": leaky}]
    if focus in ("overview", "complaints", "waterproofing"):
        out.append({"fact": "leak_contradiction", "value": [leaky, n] if leaky else None})
    if focus in ("overview", "complaints", "fit"):
        out.append({"fact": "fit_contradiction", "value": [small, n] if small else None})
    return out


def main() -> None:
    catalog, reviews = generator()
    rows = truth(catalog, reviews)
    rng = random.Random(SEED)
    leaky = [r for r in rows.values() if r["claims"]["waterproof"]]
    small = [r for r in rows.values() if r["claims"]["runs_small"]]
    dry = [r for r in rows.values() if r["product"]["attributes"].get("waterproof") is True
           and not r["claims"]["waterproof"] and r["product"]["category"] in ("Hiking Footwear", "Jackets & Outerwear")]
    shoes = [r for r in rows.values() if r["product"]["category"] in ("Running Shoes", "Hiking Footwear")
             and not r["claims"]["runs_small"]]
    others = [r for r in rows.values() if not r["claims"]]
    plan = [(r, "waterproofing") for r in leaky] + [(r, "overview") for r in leaky] + \
        [(r, "fit") for r in small] + [(r, "complaints") for r in small[:6]] + \
        [(r, "waterproofing") for r in rng.sample(dry, min(8, len(dry)))] + \
        [(r, "fit") for r in rng.sample(shoes, 8)] + [(r, "overview") for r in rng.sample(others, 14)] + \
        [(r, "complaints") for r in rng.sample(others, 8)]
    templates = {"overview": OVERVIEW, "fit": FIT, "waterproofing": WATERPROOF, "complaints": COMPLAINTS}
    lines = []
    for k, (row, focus) in enumerate(plan):
        title = row["product"]["title"]
        question = {"id": f"q{k + 1:03d}", "product_id": row["product"]["id"], "focus": focus}
        if focus in FOLLOW_UP and k % 5 == 0:     # about the product just discussed
            question["setup"] = f"how much is the {title}?"
            question["question"] = FOLLOW_UP[focus]
        else:
            question["question"] = rng.choice(templates[focus]).format(t=title)
        question["expected"] = facts(row, focus)
        lines.append(json.dumps(question))
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    kinds = Counter(q for _, q in plan)
    print(f"{len(lines)} questions ({dict(kinds)}) -> {OUT}")


if __name__ == "__main__":
    main()
