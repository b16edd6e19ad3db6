"""Test conversations ("stories") run through the real engine, step by step, with pass/fail per step.

A story file (YAML):

    stories:
      - story: order status after the right email
        steps:
          - user: where is my order?
            intent: order_status            # expected NLU intent (optional)
            action: action_order_status     # an action or response run this turn (optional)
            slots: {requested_slot: order_id}
            reply_contains: order number    # text every reply of the turn, joined, must contain (str or list)
            reply_not_contains: 10445
            handoff: false
          - wait_minutes: 90                # the next message comes this much later (session expiry)
          - agent: Hi, Sam here.            # a human agent's reply in a handed-off chat
          - resume: true                    # the agent gives the chat back to the bot

Besides each step's expectations, every turn is checked for leaks: no bot message may carry the id, tracking number
or email of an order that this conversation has not verified.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from actions.ledger import SqliteLedger
from actions.services import set_backend, set_ledger
from actions.store_backend import SqliteStoreBackend
from bot.engine import Engine
from bot.messages import Inbound, Outbound
from retrieval.loaders.errors import DataError, DataIssue
from retrieval.loaders.records import load_yaml_with_lines, strip_line_markers


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user: str | None = None
    intent: str | None = None
    action: str | list[str] | None = None
    slots: dict[str, Any] = Field(default_factory=dict)
    reply_contains: str | list[str] | None = None
    reply_not_contains: str | list[str] | None = None
    handoff: bool | None = None
    cards: bool | None = None
    buttons: list[str] | None = None
    wait_minutes: float | None = None
    agent: str | None = None
    resume: bool | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Step:
        if sum(x is not None for x in (self.user, self.wait_minutes, self.agent, self.resume)) != 1:
            raise ValueError("a step has exactly one of `user`, `wait_minutes`, `agent` or `resume`")
        return self


class Story(BaseModel):
    model_config = ConfigDict(extra="forbid")
    story: str
    steps: list[Step]
    line: int | None = None


@dataclass
class StepResult:
    story: str
    index: int
    user: str
    passed: bool
    problems: list[str] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)


@dataclass
class StoryReport:
    results: list[StepResult]
    stories: int
    failed_stories: list[str]
    leaks: int

    @property
    def passed(self) -> bool:
        return not self.failed_stories and self.leaks == 0

    def summary(self) -> dict[str, Any]:
        steps = [r for r in self.results if r.user]
        return {"stories": self.stories, "stories_passed": self.stories - len(self.failed_stories),
                "steps": len(steps), "steps_passed": sum(r.passed for r in steps), "leaks": self.leaks,
                "failed_stories": self.failed_stories}


@dataclass
class StorySuite:
    stories: list[Story]
    today: datetime | None = None   # the clock for the order back-end and the conversations


def load_stories(path: Path) -> StorySuite:
    """Read a story file (`stories:` and an optional `today:`); problems name the file, line and field."""
    data = load_yaml_with_lines(path)
    items = data.get("stories") if isinstance(data, dict) else None
    if not isinstance(data, dict) or not isinstance(items, list):
        raise DataError([DataIssue(str(path), "a story file needs a top-level `stories:` list", 1)])
    stories, issues = [], []
    for item in items:
        line = item.get("__line__") if isinstance(item, dict) else None
        try:
            stories.append(Story.model_validate({**strip_line_markers(item), "line": line}))
        except ValidationError as exc:
            for error in exc.errors():
                loc = error["loc"]
                where = line
                if len(loc) >= 2 and loc[0] == "steps" and isinstance(loc[1], int) and \
                        loc[1] < len(item.get("steps") or []) and isinstance(item["steps"][loc[1]], dict):
                    where = item["steps"][loc[1]].get("__line__", line)
                issues.append(DataIssue(str(path), error["msg"], where, ".".join(map(str, loc))))
    today = None
    if data.get("today"):
        try:
            today = datetime.fromisoformat(str(data["today"]))
        except ValueError:
            issues.append(DataIssue(str(path), "`today` must be an ISO date-time", None, "today"))
    if issues:
        raise DataError(issues)
    return StorySuite(stories, today)


class OrderLeakCheck:
    """Finds order details in bot messages of a conversation that has not verified that order."""

    def __init__(self, orders: list[dict[str, Any]]):
        self.secrets = {str(o["id"]): [s for s in (str(o["id"]), o.get("tracking_number"), o.get("email")) if s]
                        for o in orders}

    def leaks(self, events: list[dict[str, Any]]) -> list[str]:
        verified: set[str] = set()
        found = []
        for event in events:
            if event["event"] == "slot" and event["name"] == "verified_order" and event["value"]:
                verified.add(str(event["value"]))
            elif event["event"] == "bot" and not (event.get("metadata") or {}).get("agent"):
                custom = (event.get("data") or {}).get("custom")
                said = (str(event.get("text") or "") + " " + json.dumps(custom or {})).lower()
                for order_id, secrets in self.secrets.items():
                    if order_id in verified:
                        continue
                    for secret in secrets:
                        if re.search(rf"(?<![\w.]){re.escape(secret.lower())}(?![\w])", said):
                            found.append(f"order {order_id}: {secret!r} in {event.get('text')!r}")
        return found


async def run_stories(engine: Engine, suite: StorySuite, orders_file: Path | None = None) -> StoryReport:
    """Run every story in its own conversation, each on a fresh demo back-end seeded from `orders_file` (whose
    orders the leak check also watches), with the clock at the suite's `today` moving a minute a turn."""
    orders = json.loads(orders_file.read_text(encoding="utf-8"))["orders"] if orders_file is not None else []
    check = OrderLeakCheck(orders)
    results: list[StepResult] = []
    failed: list[str] = []
    leaks = 0
    clock = itertools.count()
    today = suite.today
    base = today.timestamp() if today is not None else time.time()
    for number, story in enumerate(suite.stories):
        if orders_file is not None:  # each story starts from the store's orders as shipped
            set_backend(SqliteStoreBackend.from_orders_file(orders_file, clock=(lambda: today) if today else None))
            set_ledger(SqliteLedger())  # and with no failed checks
        sender = f"story-{number}-{int(base)}"
        conversation = f"stories:{sender}"
        now = base
        story_ok = True
        for index, step in enumerate(story.steps):
            if step.wait_minutes is not None:
                now += step.wait_minutes * 60
                continue
            if step.agent is not None:
                await engine.agent_message(conversation, step.agent)
                continue
            if step.resume:
                out = await engine.resume(conversation)
                results.append(StepResult(story.story, index, "", True, replies=[out.text]))
                continue
            now += 60 + next(clock) * 1e-3
            outs = [o async for o in engine.handle(Inbound(sender, step.user or "", "stories", timestamp=now))]
            tracker = await engine.tracker(conversation)
            problems = _check(step, outs, tracker)
            found = check.leaks(tracker.events)
            if found:
                leaks += len(found)
                problems += [f"LEAK {f}" for f in found]
            replies = [o.text for o in outs if o.type in ("message", "handoff") and o.text]
            results.append(StepResult(story.story, index, step.user or "", not problems, problems, replies))
            story_ok = story_ok and not problems
        if not story_ok:
            failed.append(story.story)
    return StoryReport(results, len(suite.stories), failed, leaks)


def _as_list(value: str | list[str] | None) -> list[str]:
    return [] if value is None else [value] if isinstance(value, str) else list(value)


def _check(step: Step, outs: list[Outbound], tracker: Any) -> list[str]:
    """What in this turn differs from the step's expectations."""
    turn = _last_turn(tracker.events)
    replies = [o for o in outs if o.type in ("message", "handoff")]
    text = " ".join(o.text for o in replies).lower()
    return [*_check_intent(step, turn), *_check_actions(step, turn), *_check_slots(step, tracker.slots),
            *[f"reply lacks {w!r}" for w in _as_list(step.reply_contains) if w.lower() not in text],
            *[f"reply contains {w!r}" for w in _as_list(step.reply_not_contains) if w.lower() in text],
            *_check_outbound(step, outs)]


def _check_intent(step: Step, turn: list[dict[str, Any]]) -> list[str]:
    user = next((e for e in turn if e["event"] == "user"), {})
    intent = ((user.get("parse_data") or {}).get("intent") or {}).get("name")
    return [f"intent {intent!r}, expected {step.intent!r}"] if step.intent is not None and intent != step.intent else []


def _check_actions(step: Step, turn: list[dict[str, Any]]) -> list[str]:
    ran = [e["name"] for e in turn if e["event"] == "action"]
    return [f"action {action!r} did not run (ran: {', '.join(ran) or 'nothing'})"
            for action in _as_list(step.action) if action not in ran]


def _check_slots(step: Step, slots: dict[str, Any]) -> list[str]:
    return [f"slot {name} = {slots.get(name)!r}, expected {value!r}" for name, value in step.slots.items()
            if slots.get(name) != value]


def _check_outbound(step: Step, outs: list[Outbound]) -> list[str]:
    """Handoff, product cards and buttons."""
    problems = []
    if step.handoff is not None and any(o.type == "handoff" for o in outs) != step.handoff:
        problems.append("expected a handoff" if step.handoff else "unexpected handoff")
    if step.cards is not None and any(o.cards for o in outs) != step.cards:
        problems.append("expected product cards" if step.cards else "unexpected product cards")
    titles = [b["title"] for o in outs for b in o.buttons]
    problems += [f"no button {title!r} (buttons: {titles})" for title in step.buttons or [] if title not in titles]
    return problems


def _last_turn(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    start = max((i for i, e in enumerate(events) if e["event"] == "user"), default=0)
    return events[start:]
