"""The owner's report: the figures of the chats in a period, the unanswered questions clustered by meaning, and the
charts; as a dict (the `/admin` API, `shopbot report --json`) and as text (`shopbot report`).

    report = build_report(store, since=parse_when("2026-11-01"), embed=index_embed(index),
                          nearest=index_nearest(index))
    print(render_text(report))

It is built from the store each time it is asked for, so an erased conversation is gone from it at once; it holds
no conversation id, and every shopper text in it is redacted (`bot.logs.redact`).
"""

from __future__ import annotations

import time
from datetime import date, datetime, timezone
from typing import Any

from bot.analytics import charts
from bot.analytics.chats import read_chats
from bot.analytics.clusters import Embed, Nearest, cluster_questions
from bot.analytics.figures import figures, unanswered
from bot.dialogue.store import ConversationStore

TOP_INTENTS = 12


def parse_when(value: str, name: str = "--since") -> float:
    """A UTC timestamp from `YYYY-MM-DD` (midnight UTC) or an ISO 8601 date and time (UTC without an offset);
    `ValueError` naming `name` otherwise."""
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp()
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{name}: expected a date (2026-11-01) or a date and time (2026-11-01T09:00:00+00:00), "
                         f"got {value!r}") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()


def _iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def build_report(store: ConversationStore, since: float | None = None, until: float | None = None,
                 embed: Embed | None = None, nearest: Nearest | None = None,
                 clusters: int | None = 30, with_charts: bool = True) -> dict[str, Any]:
    """Everything the owner sees for the chats that started in [since, until). Without `embed`, no clusters."""
    started = time.perf_counter()
    chats = read_chats(store, since, until)
    numbers = figures(chats)
    missed = unanswered(chats)
    counted = time.perf_counter()
    questions = cluster_questions(missed, embed, nearest, limit=clusters) if embed is not None else []
    report: dict[str, Any] = {
        "generated_at": _iso(time.time()), "since": _iso(since), "until": _iso(until),
        "figures": numbers, "questions": questions,
        "seconds": {"count": round(counted - started, 3), "cluster": round(time.perf_counter() - counted, 3)}}
    if with_charts:
        report["charts"] = draw(numbers)
    return report


def draw(numbers: dict[str, Any]) -> dict[str, str]:
    """The report's charts (inline SVG) from its figures."""
    resolved = numbers["resolved"]
    reasons = list(numbers["handoffs"]["by_reason"].items())
    intents = list(numbers["intents"].items())[:TOP_INTENTS]
    why = {"fallback": "fallback", "dont_know": "\u201cI'm not sure\u201d", "low_confidence": "low confidence"}
    return {
        "resolution": charts.split(resolved, numbers["conversations"] - resolved, "Resolved conversations",
                                   "resolved", "not resolved"),
        "csat": charts.split(numbers["csat"]["up"], numbers["csat"]["down"], "Shopper ratings (CSAT)",
                             "thumbs up", "thumbs down"),
        "handoffs": charts.bars(reasons, "Handoffs by reason", charts.PALETTE[2]),
        "intents": charts.bars(intents, "Messages by intent", charts.PALETTE[1]),
        "intents_by_day": charts.stacked_days(numbers["intents_by_day"], "Intents per day"),
        "unanswered": charts.bars([(why.get(k, k), v) for k, v in numbers["unanswered"]["by_why"].items()],
                                  "Unanswered messages by kind", charts.PALETTE[3]),
    }


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def render_text(report: dict[str, Any], questions: int = 10) -> str:
    """The report for a terminal."""
    f = report["figures"]
    period = f"{report['since'] or 'the start'} to {report['until'] or 'now'}"
    lines = [f"Conversations {period}: {f['conversations']:,} ({f['messages']:,} shopper messages; "
             f"first {f['first_chat'] or '-'}, last {f['last_chat'] or '-'})",
             f"Resolved: {f['resolved']:,} ({_percent(f['resolution_rate'])}), ended without a handoff, a fallback "
             f"or negative sentiment",
             f"Handoffs: {f['handoffs']['conversations']:,} conversations"
             + "".join(f"\n  {reason}: {count:,}" for reason, count in f["handoffs"]["by_reason"].items()),
             f"Fallbacks: {f['fallbacks']['turns']:,}, \"I'm not sure\" replies: {f['fallbacks']['dont_know_turns']:,}"
             f" (in {f['fallbacks']['conversations']:,} conversations)",
             f"CSAT: {_percent(f['csat']['score'])} thumbs up ({f['csat']['up']:,} up, {f['csat']['down']:,} down; "
             f"{_percent(f['csat']['response_rate'])} of conversations rated)",
             "Top intents: " + ", ".join(f"{name} {count:,}" for name, count in list(f["intents"].items())[:8])]
    if report["questions"]:
        lines.append(f"Unanswered questions ({f['unanswered']['total']:,} messages), most asked first:")
        for group in report["questions"][:questions]:
            hint = group["nearest_source"]
            near = f"  [nearest: {hint['id']} {hint['similarity']}]" if hint else ""
            lines.append(f"  {group['asked']:>4}x  {group['question']}  ({group['phrasings']} phrasings){near}")
    elif f["unanswered"]["total"]:
        lines.append(f"Unanswered messages: {f['unanswered']['total']:,} (not clustered)")
    return "\n".join(lines)
