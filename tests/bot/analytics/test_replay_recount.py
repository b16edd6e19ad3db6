"""The owner's figures on 500 demo conversations replayed through the real engine (the trained NLU, the index,
in-process actions, extractive replies; `benchmarks/analytics/replay_demo.py`): every figure equals a recount made
here from the raw SQLite rows, with code of its own, and what the script played (conversations, messages,
ratings). The unanswered questions are grouped by meaning with no invented answer and no personal data, and an
erased shopper's chats leave every figure."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections import Counter, defaultdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from benchmarks.analytics.replay_demo import MISSING, demo_orders, memoise_models, replay
from bot.analytics.clusters import index_embed, index_nearest
from bot.analytics.report import build_report
from bot.dialogue.store import ConversationStore
from bot.privacy.shopper import erase_shopper
from tests.support import demo_backend

pytestmark = pytest.mark.slow
CONVERSATIONS = 500
ERASED = "jo.smith@example.com"   # written in some "jobs" questions of the replay


@pytest.fixture(scope="module")
def replayed(demo_store, demo_parser, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The replay in a SQLite file, the report on it (clusters with the store's index) and what was played."""
    from actions.ledger import SqliteLedger
    from actions.services import set_backend, set_ledger, set_recommender
    from bot.analytics.feedback import FeedbackIntake
    from bot.app import build_bot
    from bot.channels.guard import ChannelGuard
    from bot.config import ServerSettings, Settings
    from bot.responder.responder import Responder

    folder = tmp_path_factory.mktemp("replay")
    set_backend(demo_backend())
    set_ledger(SqliteLedger(folder / "verification.db"))
    store = ConversationStore(folder / "conversations.db")
    engine = build_bot(Settings(data_dir=folder / "data"), demo_store, Responder(None), demo_parser, store).engine
    memoise_models(engine)
    intake = FeedbackIntake(engine, ChannelGuard(ServerSettings()))
    played = asyncio.run(replay(engine, intake.record, CONVERSATIONS))
    index = demo_store.index
    report = build_report(store, embed=index_embed(index), nearest=index_nearest(index), clusters=None)
    yield {"store": store, "db": folder / "conversations.db", "played": played, "report": report, "engine": engine}
    store.close()
    set_recommender(None)
    set_backend(None)
    set_ledger(None)


# -- the recount: the raw rows, read and counted without the analytics code ---------------------------------------

def raw_conversations(db: Path) -> dict[str, list[dict]]:
    connection = sqlite3.connect(db)
    try:
        rows = connection.execute("SELECT conversation_id, data FROM events ORDER BY conversation_id, id").fetchall()
    finally:
        connection.close()
    grouped: dict[str, list[dict]] = defaultdict(list)
    for conversation_id, data in rows:
        grouped[conversation_id].append(json.loads(data))
    return grouped


def recount(db: Path) -> dict[str, Any]:
    """The figures from the raw rows: sessions cut at `session_started`, turns cut at each non-command `user`."""
    out: dict[str, Any] = {"conversations": 0, "messages": 0, "resolved": 0, "negative": 0, "handoff_chats": 0,
                           "reasons": Counter(), "fallback": 0, "dont_know": 0, "fallback_chats": 0, "up": 0,
                           "down": 0, "intents": Counter(), "by_day": defaultdict(Counter), "why": Counter()}
    for events in raw_conversations(db).values():
        paused_at = []   # for each event index: did a person have the chat just before it?
        paused = False
        for event in events:
            paused_at.append(paused)
            if event["event"] == "pause":
                paused = True
            elif event["event"] == "resume":
                paused = False
        starts = [i for i, e in enumerate(events) if e["event"] == "session_started"]
        for n, start in enumerate(starts):
            end = starts[n + 1] if n + 1 < len(starts) else len(events)
            span = range(start + 1, end)
            users = [i for i in span if events[i]["event"] == "user"
                     and events[i].get("parse_data", {}).get("source") != "command"]
            if not users:
                continue
            out["conversations"] += 1
            turns = []
            for u in users:
                # the turn runs to the next shopper message of any kind (a command ends it too)
                stop = next((j for j in range(u + 1, end) if events[j]["event"] == "user"), end)
                piece = events[u + 1:stop]
                names = [e.get("name") for e in piece if e["event"] == "action"]
                answer = next((j for j, e in enumerate(piece) if e["event"] == "action"
                               and e.get("name") == "action_answer"), None)
                answered_bot = next((e for e in piece[answer + 1:] if e["event"] == "bot"), None) \
                    if answer is not None else None
                parse = events[u].get("parse_data") or {}
                turns.append({"index": u, "names": names, "parse": parse,
                              "dont_know": answered_bot is not None and not (answered_bot.get("data") or {}).get(
                                  "sources"),
                              "paused": paused_at[u], "pauses": sum(e["event"] == "pause" for e in piece)})
            before_first = sum(events[i]["event"] == "pause" for i in range(start + 1, users[0]))
            out["messages"] += len(turns)
            reasons = ["still with a person from an earlier session"] * before_first
            for k, turn in enumerate(turns):
                for _ in range(turn["pauses"]):
                    previous = turns[k - 1]["names"] if k else []
                    negative = (turn["parse"].get("sentiment") or {}).get("label") == "negative"
                    if "utter_sorry_upset" in previous or negative:
                        reasons.append("upset shopper")
                    elif "utter_offer_handoff" in previous:
                        reasons.append("after fallbacks")
                    elif {"utter_actions_down", "utter_outcome_unknown"} & set(previous):
                        reasons.append("order system unreachable")
                    else:
                        reasons.append("asked for a person")
            out["reasons"].update(reasons)
            out["handoff_chats"] += bool(reasons)
            fell = [("utter_fallback" in t["names"]) for t in turns]
            unsure = [t["dont_know"] for t in turns]
            out["fallback"] += sum(fell)
            out["dont_know"] += sum(unsure)
            out["fallback_chats"] += any(a or b for a, b in zip(fell, unsure, strict=True))
            negatives = [(t["parse"].get("sentiment") or {}).get("label") == "negative" for t in turns]
            out["negative"] += sum(negatives)
            out["resolved"] += not reasons and not (fell[-1] or unsure[-1] or negatives[-1])
            ratings = [e["rating"] for e in events[start + 1:end] if e["event"] == "csat"
                       and e.get("rating") in ("up", "down")]
            if ratings:
                out[ratings[-1]] += 1
            for t, f, d in zip(turns, fell, unsure, strict=True):
                if t["paused"]:
                    continue
                name = (t["parse"].get("intent") or {}).get("name") or "none"
                out["intents"][name] += 1
                when = datetime.fromtimestamp(events[t["index"]]["timestamp"], timezone.utc).date().isoformat()
                out["by_day"][when][name] += 1
                why = "fallback" if f else "dont_know" if d else \
                    "low_confidence" if "utter_did_you_mean" in t["names"] else None
                if why:
                    out["why"][why] += 1
    return out


def test_every_figure_matches_a_recount_of_the_raw_events(replayed) -> None:
    f, played = replayed["report"]["figures"], replayed["played"]
    again = recount(replayed["db"])
    # what the script played
    assert played["conversations"] == CONVERSATIONS == f["conversations"] == again["conversations"]
    assert f["messages"] == played["turns"] == again["messages"]
    assert (f["csat"]["up"], f["csat"]["down"]) == (played["ratings"]["up"], played["ratings"]["down"])
    # the recount
    assert f["resolved"] == again["resolved"]
    assert f["resolution_rate"] == round(again["resolved"] / again["conversations"], 4)
    assert f["handoffs"] == {"conversations": again["handoff_chats"], "total": sum(again["reasons"].values()),
                             "by_reason": dict(again["reasons"])}
    assert f["fallbacks"] == {"turns": again["fallback"], "dont_know_turns": again["dont_know"],
                              "conversations": again["fallback_chats"]}
    assert f["negative_messages"] == again["negative"]
    assert (f["csat"]["up"], f["csat"]["down"]) == (again["up"], again["down"])
    assert f["csat"]["score"] == round(again["up"] / (again["up"] + again["down"]), 4)
    assert f["intents"] == dict(again["intents"])
    assert f["intents_by_day"] == {day: dict(counts) for day, counts in again["by_day"].items()}
    assert f["unanswered"] == {"total": sum(again["why"].values()), "by_why": dict(again["why"])}
    # the mix has something of everything the figures count
    assert f["handoffs"]["by_reason"].get("asked for a person", 0) > 0 and len(f["handoffs"]["by_reason"]) >= 2
    assert f["fallbacks"]["turns"] > 0 and f["negative_messages"] > 0 and f["csat"]["down"] > 0
    assert 0 < f["resolved"] < f["conversations"] and len(f["intents_by_day"]) >= 20


def test_unanswered_questions_are_grouped_by_meaning_with_no_invented_answer(replayed, demo_store) -> None:
    report = replayed["report"]
    groups = report["questions"]
    assert sum(g["asked"] for g in groups) == report["figures"]["unanswered"]["total"]
    kb_ids = {p.id for p in demo_store.index.passages}
    for group in groups:
        assert set(group["suggested_faq"]) == {"id", "question", "alternates"}   # no answer, ever
        assert group["question"] == group["suggested_faq"]["question"]
        assert group["question"] in [e["text"] for e in group["examples"]]
        hint = group["nearest_source"]
        assert hint is None or hint["id"] in kb_ids
    where = {e["text"].casefold(): i for i, g in enumerate(groups) for e in g["examples"]}
    together = 0
    for phrasings in MISSING.values():
        seen = [where[p.casefold()] for p in phrasings if p.casefold() in where]
        if len(seen) >= 2 and Counter(seen).most_common(1)[0][1] >= 2:
            together += 1
    assert together >= 3, [(g["question"], [e["text"] for e in g["examples"]]) for g in groups[:12]]


def test_the_report_holds_no_personal_data_or_conversation_id(replayed) -> None:
    shown = json.dumps(replayed["report"])
    assert ERASED not in shown and "415-555-0142" not in shown and "0142" not in shown
    assert not [email for _, email in demo_orders() if email in shown]
    assert "replay-" not in shown and "web:" not in shown
    assert "[email]" in shown and "[phone]" in shown   # the questions that held them are there, redacted


def test_an_erased_shopper_leaves_every_figure(replayed, tmp_path: Path) -> None:
    copy = tmp_path / "copy.db"
    source = sqlite3.connect(replayed["db"])
    target = sqlite3.connect(copy)
    source.backup(target)
    source.close()
    target.close()
    store = ConversationStore(copy)
    try:
        erased = asyncio.run(erase_shopper(store, ERASED))
        after = build_report(store)["figures"]
    finally:
        store.close()
    before = replayed["report"]["figures"]
    assert erased["conversations"] >= 1
    assert after["conversations"] == before["conversations"] - erased["conversations"]
    again = recount(copy)
    assert after["conversations"] == again["conversations"] and after["resolved"] == again["resolved"]
    assert after["unanswered"]["total"] == sum(again["why"].values())
    texts = [t for events in raw_conversations(copy).values() for t in
             [e.get("text") or "" for e in events if e["event"] == "user"]]
    assert not [t for t in texts if ERASED in t]
