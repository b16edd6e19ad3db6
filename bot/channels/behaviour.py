"""Behaviour events from the widget and the storefront (`/ws` `event` frames, `POST /webhooks/rest/event`), and
the widget's settings at `GET /widget/config` (with the greeting of `bot.channels.greeting`).

An event is checked (`bot.privacy.behaviour.parse_behaviour`), rate-limited (the message limiter, in a window of
its own per sender), then, under the conversation's lock, stored only when the shopper's consent allows it;
otherwise it is refused with `consent_required` and nothing is kept. A dwell report may bring the one nudge
(`bot.nudges`), recorded in the same append.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.channels.greeting import WidgetGreeting, answer_check
from bot.channels.guard import ChannelGuard, ClientRefused, error_response
from bot.config import NudgeSettings, PrivacySettings
from bot.dialogue.tracker import DialogueTracker
from bot.engine import Engine, conversation_tag
from bot.messages import Outbound
from bot.nudges import nudge_message, nudged, trigger
from bot.privacy.behaviour import BEHAVIOUR, BehaviourError, behaviour_event, parse_behaviour
from bot.privacy.consent import WORDS, allows
from retrieval.loaders import KnowledgeBase

log = logging.getLogger("shopbot.behaviour")
CONSENT_REQUIRED = ("the shopper has not agreed to " + WORDS[BEHAVIOUR] + ": ask first, then send "
                    '/consent{"behaviour": true}')
EVENTS_WINDOW = "/events"   # a sender's events are counted apart from its messages (browsing is not chatting)


@dataclass(frozen=True)
class Recorded:
    """A stored event and the nudge it brought (None: no nudge)."""

    event: dict[str, Any]
    nudge: Outbound | None = None

    def ack(self) -> dict[str, Any]:
        """The acknowledgement frame (`/ws`) or body (REST, which adds the nudge as `messages`)."""
        return {"type": "event_ack", "name": self.event["name"], "product_id": self.event["product_id"]}


class BehaviourIntake:
    """Checks and stores behaviour events for every channel that takes them."""

    def __init__(self, engine: Engine, guard: ChannelGuard, privacy: PrivacySettings, nudges: NudgeSettings,
                 kb: KnowledgeBase):
        self.engine = engine
        self.guard = guard
        self.privacy = privacy
        self.nudges = nudges
        self.facts = kb.facts
        self.titles = {p.id: p.title for p in kb.products}
        self.store = {"name": kb.name, "currency": store_currency(kb)}
        answers = answer_check(engine.parser, engine.domain, engine.options.ask_below) \
            if engine.parser is not None else None
        self.greeting = WidgetGreeting(kb, engine.store, answers=answers)   # the panel's opening and suggestions

    def config(self) -> dict[str, Any]:
        """What the widget needs to know before it sends anything: the consent mode and its wording, and when a
        nudge may come (None: nudges are off)."""
        return {"behaviour": {"consent": self.privacy.mode(BEHAVIOUR), "words": WORDS[BEHAVIOUR]},
                "nudges": {"after_seconds": self.nudges.after_seconds} if self.nudges.enabled else None}

    def parse(self, body: Any) -> dict[str, Any]:
        """The event a client sent, or `ClientRefused` (`invalid_event`)."""
        try:
            return parse_behaviour(body, self.titles)
        except BehaviourError as exc:
            raise ClientRefused("invalid_event", str(exc)) from None

    async def admit(self, sender_key: str, ip: str) -> None:
        """One event against the sender's event window and the address's window (`ClientRefused`,
        `rate_limited`, when either is spent)."""
        if not await self.guard.rates.allow(sender_key + EVENTS_WINDOW, ip):
            raise ClientRefused("rate_limited", "too many events; wait a moment", 429)

    async def record(self, conversation_id: str, parsed: dict[str, Any], channel: str,
                     sender_id: str = "") -> Recorded:
        """Store the event in the conversation's log when its consent allows it (`consent_required` otherwise),
        with the nudge it brings. `StateUnavailable` when the store or the lock service is down."""
        async with self.engine.locks.hold(conversation_id):
            events = await self.engine.store.load_all(conversation_id)
            if not allows(self.privacy, BEHAVIOUR, events):
                raise ClientRefused("consent_required", CONSENT_REQUIRED, 403)
            event = behaviour_event(parsed, channel)
            new = [event]
            nudge = self._nudge(conversation_id, event, events, channel)
            if nudge is not None:
                new += nudge[1]
            await self.engine.store.append(conversation_id, new, channel, sender_id)
        if nudge is not None:
            log.info("nudge sent in %s", conversation_tag(conversation_id))
        return Recorded(event, nudge[0] if nudge is not None else None)

    def _nudge(self, conversation_id: str, event: dict[str, Any], events: list[dict[str, Any]],
               channel: str) -> tuple[Outbound, list[dict[str, Any]]] | None:
        """The nudge this event brings: nudges on, a long enough dwell, none sent or refused in this
        conversation, and no person or form holding the chat."""
        if not self.nudges.enabled:
            return None
        why = trigger(event, self.nudges.after_seconds)
        if why is None or nudged(events):
            return None
        tracker = DialogueTracker(conversation_id, self.engine.domain, events)
        if tracker.paused or tracker.active_loop:
            return None
        return nudge_message(self.titles[event["product_id"]], self.facts, why, channel)

    async def widget_config(self, request: web.Request) -> web.Response:
        """`GET /widget/config`: `config()`, the store's name and currency, and the greeting with its suggested
        questions, as JSON (the channels' token and origin checks apply)."""
        refusal = self.guard.check_request(request)
        if refusal is not None:
            return error_response(refusal.code, refusal.detail, refusal.status)
        body = {**self.config(), "store": self.store, **(await self.greeting.config())}
        return web.json_response(body, headers={"Cache-Control": "no-store"})


def store_currency(kb: KnowledgeBase) -> str:
    """The store's ISO currency: `currency` in store.yml, else the one most of its products give, else USD."""
    named = str(kb.facts.get("currency") or "").strip().upper()
    if named:
        return named
    counts = Counter(p.currency.upper() for p in kb.products if p.currency)
    return counts.most_common(1)[0][0] if counts else "USD"
