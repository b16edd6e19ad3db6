"""The analytics' definitions on hand-made event logs: what a chat is, what a turn did, when a chat is resolved,
why it was handed off, which rating counts, what is counted per day, and what is unanswered."""

from __future__ import annotations

from bot.analytics.chats import chats_from_events
from bot.analytics.figures import AFTER_FALLBACKS, ASKED, CONTINUED, UPSET, figures, unanswered

T0 = 1_795_000_000.0   # 2026-11-18 (UTC)


def session(t: float = T0) -> list[dict]:
    return [{"event": "action", "name": "action_session_start", "timestamp": t},
            {"event": "session_started", "timestamp": t}, {"event": "action", "name": "action_listen", "timestamp": t}]


def user(text: str, intent: str | None = "greet", t: float = T0, confidence: float = 0.95, sentiment: str = "neutral",
         source: str = "nlu") -> dict:
    return {"event": "user", "text": text, "timestamp": t,
            "parse_data": {"intent": {"name": intent, "confidence": confidence}, "source": source,
                           "sentiment": {"label": sentiment, "score": 0.97}}}


def said(*actions: str, sources: list[str] | None = None) -> list[dict]:
    out = []
    for name in actions:
        out.append({"event": "action", "name": name})
        out.append({"event": "bot", "text": name, "data": {"sources": sources or []} if name == "action_answer"
                    else {"buttons": []}})
    return out + [{"event": "action", "name": "action_listen"}]


def test_sessions_are_chats_and_commands_are_not_messages() -> None:
    events = [{"event": "behaviour", "name": "product_viewed", "product_id": "P1001"},  # before any session
              *session(), user("/restart", None, source="command"), *said("utter_restarted"),
              *session(T0 + 7200), user("hi"), *said("utter_greet"),
              *session(T0 + 9000), user('/consent{"behaviour": true}', None, source="command")]
    chats = chats_from_events("web:a", events)
    assert [len(c.turns) for c in chats] == [1]      # the first and last sessions hold only commands
    assert chats[0].started == T0 + 7200 and chats[0].session == 1


def test_resolution_looks_at_the_end_of_the_chat_and_at_any_handoff() -> None:
    recovered = [*session(), user("zxq", None), *said("utter_fallback"), user("do you ship to Canada?", None),
                 *said("action_answer", sources=["faq:international-countries"])]
    ends_badly = [*session(), user("do you ship to Canada?", None),
                  *said("action_answer", sources=["faq:international-countries"]), user("zxq", None),
                  *said("utter_fallback")]
    ends_angry = [*session(), user("this is awful", "complaint", sentiment="negative"), *said("utter_sorry_upset")]
    not_sure = [*session(), user("do you rent kayaks?", None), *said("action_answer", sources=[])]
    handed = [*session(), user("a person please", "human_handoff"), *said("action_handoff"), {"event": "pause"},
              user("hello?", "greet"), *said(), {"event": "resume"}, user("thanks", "thanks"), *said("utter_welcome")]
    chats = [c for i, events in enumerate([recovered, ends_badly, ends_angry, not_sure, handed])
             for c in chats_from_events(f"web:{i}", events)]
    numbers = figures(chats)
    assert numbers["conversations"] == 5 and numbers["resolved"] == 1 and numbers["resolution_rate"] == 0.2
    assert numbers["fallbacks"] == {"turns": 2, "dont_know_turns": 1, "conversations": 3}
    assert numbers["negative_messages"] == 1
    assert numbers["handoffs"] == {"conversations": 1, "total": 1, "by_reason": {ASKED: 1}}
    # the message to the person ("hello?") is not an intent the bot handled, nor an unanswered one
    assert numbers["intents"] == {"none": 5, "complaint": 1, "human_handoff": 1, "thanks": 1}
    assert "hello?" not in [u.text for u in unanswered(chats)]
    assert sorted((u.text, u.why) for u in unanswered(chats)) == [
        ("do you rent kayaks?", "dont_know"), ("zxq", "fallback"), ("zxq", "fallback")]


def test_why_a_chat_was_handed_off() -> None:
    upset = [*session(), user("this is awful", "complaint", sentiment="negative"), *said("utter_sorry_upset"),
             user("/human_handoff", "human_handoff", source="payload"), *said("action_handoff"), {"event": "pause"}]
    angry_ask = [*session(), user("get me a human NOW", "human_handoff", sentiment="negative"),
                 *said("action_handoff"), {"event": "pause"}]
    fallbacks = [*session(), user("zxq", None), *said("utter_fallback"), user("qqq", None),
                 *said("utter_fallback", "utter_offer_handoff"), user("/human_handoff", "human_handoff",
                                                                         source="payload"),
                 *said("action_handoff"), {"event": "pause"}]
    asked = [*session(), user("a person please", "human_handoff"), *said("action_handoff"), {"event": "pause"}]
    carried = [*session(), user("a person please", "human_handoff"), *said("action_handoff"), {"event": "pause"},
               *session(T0 + 7200), {"event": "pause"}, user("still there?", "greet", t=T0 + 7200), *said()]
    chats = [c for i, events in enumerate([upset, angry_ask, fallbacks, asked, carried])
             for c in chats_from_events(f"web:{i}", events)]
    numbers = figures(chats)
    assert numbers["handoffs"]["by_reason"] == {UPSET: 2, AFTER_FALLBACKS: 1, ASKED: 2, CONTINUED: 1}
    assert numbers["handoffs"]["conversations"] == 6 and numbers["resolved"] == 0


def test_the_latest_rating_counts_and_intents_are_counted_per_day() -> None:
    day2 = T0 + 86_400
    events = [*session(), user("hi", "greet"), *said("utter_greet"), {"event": "csat", "rating": "down"},
              {"event": "csat", "rating": "up"}, {"event": "csat", "rating": "sideways"},
              user("where is my order?", "order_status", t=day2), *said("utter_ask_order_id")]
    other = [*session(day2), user("hm", "help", t=day2, confidence=0.3), *said("utter_did_you_mean"),
             {"event": "csat", "rating": "down"}]
    chats = chats_from_events("web:a", events) + chats_from_events("web:b", other)
    numbers = figures(chats)
    assert numbers["csat"] == {"up": 1, "down": 1, "rated": 2, "score": 0.5, "response_rate": 1.0}
    assert numbers["intents_by_day"] == {"2026-11-18": {"greet": 1},
                                         "2026-11-19": {"order_status": 1, "help": 1}}
    assert [(u.text, u.why) for u in unanswered(chats)] == [("hm", "low_confidence")]
    assert numbers["first_chat"] == "2026-11-18" and numbers["last_chat"] == "2026-11-19"
