"""Answer benchmark: every query through retrieval and the full responder, scored against the FAQ's answers.

Reports `source_hit@1` (the first cited source is the query's FAQ entry), `answer_f1` (SQuAD-style token F1
of the reply against that entry's answer), `fallback_rate` (replies that fell back to a source's own text),
`ungrounded_facts` (facts in replies that the cited sources do not hold, checked afresh), and
latency: `p50_ms` for the whole reply and `first_chunk_p50_ms`.
"""

from __future__ import annotations

import json
import re
import statistics
import string
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bot.reporting import percentile
from bot.responder.answerer import Answerer
from bot.responder.grounding import GroundingGuard, split_sentences
from retrieval.documents import FaqEntry
from retrieval.evaluation import LabelledQuery

ARTICLES = re.compile(r"\b(?:a|an|the)\b")


def normalise_answer(text: str) -> list[str]:
    """Lower case, no punctuation or articles, split on white space (as SQuAD scores answers)."""
    text = text.lower().translate(str.maketrans("", "", string.punctuation))
    return ARTICLES.sub(" ", text).split()


def token_f1(prediction: str, gold: str) -> float:
    """Harmonic mean of token precision and recall between a reply and the gold answer."""
    predicted, wanted = normalise_answer(prediction), normalise_answer(gold)
    common = sum((Counter(predicted) & Counter(wanted)).values())
    if not predicted or not wanted or common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(wanted)
    return 2 * precision * recall / (precision + recall)


def ungrounded_facts(reply: str, cited_texts: list[str], names: Iterable[str], question: str) -> list[str]:
    """Numbers, names, dates, codes and claims in the reply that the cited sources do not hold (the question only
    counts towards relevance)."""
    guard = GroundingGuard(cited_texts, names, relevant=[question])
    return [fact for sentence in split_sentences(reply) for fact in guard.check(sentence).unsupported]


async def evaluate_answers(answerer: Answerer, queries: list[LabelledQuery], faq: list[FaqEntry],
                           replies_path: Path | None = None, names: Iterable[str] = (),
                           progress: Any = None) -> dict[str, Any]:
    """Answer every query and score the replies; writes one JSON line per query to `replies_path`."""
    by_id = {f"faq:{e.id}": e for e in faq}
    texts = {f"faq:{e.id}": f"{e.question}\n{e.answer}" for e in faq}
    names = list(names)
    rows, f1s, totals, firsts = [], [], [], []
    hits = fallbacks = 0
    ungrounded: list[str] = []
    for query in queries:
        started = time.perf_counter()
        stream = answerer.answer(query.query)
        first = None
        async for _ in stream:
            if first is None:
                first = (time.perf_counter() - started) * 1000
        total = (time.perf_counter() - started) * 1000
        reply = stream.reply
        gold = by_id[f"faq:{query.faq_id}"]
        hit = bool(reply.sources) and reply.sources[0] == f"faq:{query.faq_id}"
        f1 = token_f1(reply.text, gold.answer)
        cited = [texts.get(s) or answerer.index.passage(s).text for s in reply.sources]
        missing = ungrounded_facts(reply.text, cited, names, query.query)
        hits += hit
        fallbacks += reply.fallback
        ungrounded += missing
        f1s.append(f1)
        totals.append(total)
        firsts.append(first if first is not None else total)
        rows.append({"query": query.query, "reply": reply.text, "sources": reply.sources, "expected": f"faq:{query.faq_id}",
                     "answer_f1": round(f1, 3), "fallback": reply.fallback, "ungrounded": missing,
                     "dropped": [d.sentence for d in reply.dropped], "ms": round(total, 1)})
        if progress is not None:
            progress.update(1)
    if replies_path is not None:
        replies_path.parent.mkdir(parents=True, exist_ok=True)
        replies_path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    n = len(queries)
    return {"n_queries": n, "source_hit@1": round(hits / n, 4), "answer_f1": round(statistics.mean(f1s), 4),
            "fallback_rate": round(fallbacks / n, 4), "ungrounded_facts": len(ungrounded),
            "ungrounded_examples": ungrounded[:20], "p50_ms": round(statistics.median(totals), 1),
            "p95_ms": round(percentile(totals, 0.95), 1),
            "first_chunk_p50_ms": round(statistics.median(firsts), 1)}
