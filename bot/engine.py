"""The dialogue engine: `handle(inbound)` turns one shopper message into outbound events, for any channel.

One turn: lock the conversation, load its events, understand the message (`bot.dialogue.understanding`), let the
policy decide (`bot.dialogue.policy`, which owns every routing rule), run the decision (a form, a rasa-sdk action, a
response, a grounded answer, product cards, a handoff), stream the outbound events, and append the turn's events to
the store in one transaction. The engine imports no model code: what it talks to are the protocols of
`bot.interfaces`.

>>> async for event in engine.handle(Inbound("shopper-1", "where is my order?")):
...     print(event.type, event.text)
message What's your order number? It's the 5-digit number in your confirmation email.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import random
import secrets
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass
from typing import Any, cast

from rasa_sdk.events import (ActionExecuted, BotUttered, ConversationResumed, Restarted, SessionStarted, SlotSet,
                             UserUttered)

from bot import metrics
from bot.dialogue.domain import Domain
from bot.dialogue.errors import StateUnavailable
from bot.dialogue.executor import ActionOutcomeUnknown, ActionUnavailable
from bot.dialogue.forms import FormRunner, deactivate
from bot.dialogue.locks import LocalLocks
from bot.dialogue.policy import UNCOUNTED, Decision, Policy
from bot.dialogue.rendering import Renderer
from bot.dialogue.tracker import ACTION_LISTEN, SESSION_START, DialogueTracker
from bot.dialogue.understanding import Understander
from bot.interfaces import (ActionRunner, Answerer, ConversationLocks, ConversationStore, DomainDict, Evidence,
                            Parser, Recommender, TrackerState, Understanding)
from bot.messages import Inbound, Outbound
from bot.responder.product_answer import product_answer
from bot.responder.prompt import product_source

log = logging.getLogger("shopbot.engine")
MAX_ACTIONS_PER_TURN = 10
STREAMED = ("typing", "chunk")   # sent as they come; replies (`message`, `handoff`) wait for the turn's commit
TRY_AGAIN = "Sorry, I can't reach our systems right now. Please send that again in a moment."
RESTARTING = "The assistant is restarting. Please send that again in a moment."
INTERNAL = "Sorry, something went wrong on our side. Please try again."
_LOG_KEY = secrets.token_bytes(16)  # per process: log lines of one conversation can be followed, never traced back


def conversation_tag(conversation_id: str) -> str:
    """How logs name a conversation: its channel and a short keyed hash, never the id (a shopper's key)."""
    channel = conversation_id.split(":", 1)[0] if ":" in conversation_id else ""
    digest = hmac.new(_LOG_KEY, conversation_id.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()[:12]
    return f"{channel.encode('ascii', 'replace').decode()[:16]}#{digest}"


@dataclass
class EngineOptions:
    ask_below: float = 0.6
    handoff_sentiment: float = 0.9
    max_fallbacks: int = 2
    privacy: Any = None  # the store's `PrivacySettings` (None: the defaults): which storefront events actions see


class Engine:
    """Transport-agnostic: channels call `handle`, agents call `agent_message` and `resume`."""

    def __init__(self, domain: Domain, store: ConversationStore, executor: ActionRunner,
                 parser: Parser | None = None, answerer: Answerer | None = None,
                 recommender: Recommender | None = None, locks: ConversationLocks | None = None,
                 options: EngineOptions | None = None, rng: random.Random | None = None,
                 store_name: str = "our store"):
        self.domain = domain
        self.store_name = store_name
        self.store = store
        self.executor = executor
        self.parser = parser
        self.answerer = answerer
        self.recommender = recommender
        self.locks: ConversationLocks = locks or LocalLocks()
        self.options = options or EngineOptions()
        self.rng = rng or random.Random()
        self.policy = Policy(domain, self.options.ask_below, self.options.handoff_sentiment,
                             self.options.max_fallbacks)
        self.understander = Understander(domain, parser, recommender)
        self.render = Renderer(domain, store_name, self.rng)
        self.forms = FormRunner(domain, executor, self.render, self._action, self._actions_down)
        self._domain_dict = cast(DomainDict, domain.as_rasa_dict())
        self.listeners: list[Callable[[str, Outbound], Any]] = []   # agent consoles: shopper messages while paused
        # the product page's claims its reviews dispute, for a product answer (product, question and reply -> note)
        self.review_notes: Callable[[Any, str], str | None] | None = None
        # readable titles for the source ids an answer cites (`bot.source_titles`); None: ids only
        self.source_titles: Callable[[list[str]], list[str]] | None = None
        self.draining = False            # shutting down: new turns are refused (`unavailable`), those running end
        self._in_flight = 0
        self._idle: list[asyncio.Future[None]] = []

    # -- public API -----------------------------------------------------------------------------------------------

    async def handle(self, inbound: Inbound) -> AsyncIterator[Outbound]:
        """Stream the outbound events for one shopper message. `typing` and `chunk` go out as they come; the replies
        (`message`, `handoff`) only once the turn's events are committed, so a shopper never sees a reply the store
        could lose. The store or lock service unreachable: one `unavailable` error, the turn not run; the commit
        failing: that error instead of the replies. A stream dropped mid-turn still saves what the turn did."""
        tag = conversation_tag(inbound.conversation_id)
        if self.draining:
            yield Outbound("error", RESTARTING, code="unavailable")
            return
        self._in_flight += 1
        try:
            held: list[Outbound] = []
            failure: Outbound | None = None
            closed = False
            try:
                async with self._conversation(inbound.conversation_id, inbound.channel, inbound.sender_id,
                                              inbound.message_id) as tracker:
                    try:
                        async with aclosing(self._turn(tracker, inbound)) as events:
                            async for event in events:
                                if event.type not in STREAMED:
                                    held.append(event)
                                    continue
                                try:
                                    yield event
                                except GeneratorExit:
                                    closed = True
                                    raise
                    except StateUnavailable as exc:
                        log.warning("turn in %s stopped: %s", tag, exc)
                        failure = Outbound("error", TRY_AGAIN, code="unavailable")
                    except Exception:  # a bug must not reach the shopper as a stack trace, nor lose the turn
                        log.exception("turn failed in %s", tag)
                        failure = Outbound("error", INTERNAL, code="internal")
            except StateUnavailable as exc:  # the lock, the load or the commit
                log.warning("turn in %s not run or not saved: %s", tag, exc)
                if not closed:
                    yield Outbound("error", TRY_AGAIN, code="unavailable")
                return
            except Exception:
                log.exception("turn in %s not saved", tag)
                if not closed:
                    yield Outbound("error", INTERNAL, code="internal")
                return
            for event in held:
                yield event
            if failure is not None:
                yield failure
        finally:
            self._turn_ended()

    async def agent_message(self, conversation_id: str, text: str, agent: str = "agent") -> Outbound:
        """A person's reply in a handed-off conversation (recorded like a bot message, marked with the agent)."""
        async with self._conversation(conversation_id) as tracker:
            tracker.update(BotUttered(text, metadata={"agent": agent}))
            return Outbound("message", text, data={"agent": agent})

    async def resume(self, conversation_id: str) -> Outbound:
        """Give a handed-off conversation back to the bot."""
        async with self._conversation(conversation_id) as tracker:
            tracker.update(ConversationResumed())
            return self.render.utter(tracker, "utter_back_to_bot")

    async def tracker(self, conversation_id: str) -> DialogueTracker:
        """The conversation as stored, after any turn in flight has been saved (read-only use)."""
        async with self.locks.hold(conversation_id):
            return DialogueTracker(conversation_id, self.domain, await self.store.load_all(conversation_id))

    @asynccontextmanager
    async def _conversation(self, conversation_id: str, channel: str = "", sender_id: str = "",
                            message_id: str | None = None) -> AsyncIterator[DialogueTracker]:
        """The conversation's current session, locked (and whether an earlier one already has `message_id`);
        whatever it gained is appended to the store on the way out (even on error)."""
        async with self.locks.hold(conversation_id):
            tracker = DialogueTracker(conversation_id, self.domain,
                                      await self.store.load(conversation_id, message_id))
            try:
                yield tracker
            finally:
                await self.store.append(conversation_id, tracker.new_events, channel, sender_id,
                                        handed_off=tracker.paused)

    @property
    def turns_in_flight(self) -> int:
        return self._in_flight

    async def drain(self, timeout_s: float) -> bool:
        """Refuse new turns from now on and wait up to `timeout_s` for the turns in flight to finish (saved and
        their replies handed to the channel); True when none is left."""
        self.draining = True
        if not self._in_flight:
            return True
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._idle.append(waiter)
        try:
            await asyncio.wait_for(waiter, timeout_s)
        except TimeoutError:
            return False
        finally:
            if waiter in self._idle:
                self._idle.remove(waiter)
        return True

    def _turn_ended(self) -> None:
        self._in_flight -= 1
        if not self._in_flight:
            for waiter in self._idle:
                if not waiter.done():
                    waiter.set_result(None)

    async def close(self) -> None:
        await self.executor.close()
        await self.locks.close()

    # -- one turn ---------------------------------------------------------------------------------------------------

    async def _turn(self, tracker: DialogueTracker, inbound: Inbound) -> AsyncGenerator[Outbound, None]:
        """Understand, decide, run, close: the events of one message (the caller holds the lock and saves)."""
        if inbound.message_id and tracker.has_message(inbound.message_id):
            return  # a platform's retry of a message already answered: no second reply (a cut turn is run again)
        now = inbound.timestamp if inbound.timestamp is not None else time.time()
        text = " ".join(inbound.text.split())
        self._start_session(tracker, now)
        understanding = await self.understander.understand(text, inbound.channel, now, tracker)
        # the message id is recorded with every message, `/restart` included, so a platform's retry is recognised
        tracker.update({**UserUttered(text, parse_data=dict(understanding.parse_data), input_channel=inbound.channel,
                                      timestamp=now),
                        "metadata": {"message_id": inbound.message_id, **inbound.metadata}})
        decision, evidence = await self._decide(tracker, understanding)
        fell_back = False
        async for event in self._run(tracker, decision, understanding, evidence):
            fell_back = fell_back or bool(event.data.get("fallback"))
            yield event
        closing = self.policy.close(decision, understanding, tracker, fell_back)
        if fell_back:
            metrics.FALLBACKS.inc()
        for name, value in closing.sets:
            tracker.update(SlotSet(name, value))
        for response in closing.responses:
            yield self.render.utter(tracker, response)
        tracker.update(ActionExecuted(ACTION_LISTEN))  # the turn's end: the message counts as answered

    @staticmethod
    def _start_session(tracker: DialogueTracker, now: float) -> None:
        """A new conversation, or one quiet for longer than the session expiry, starts a session."""
        # behaviour events (or consent) recorded outside a turn can come before the conversation's first session
        if tracker.session_expired(now) or not any(e["event"] == "session_started" for e in tracker.events):
            tracker.update(ActionExecuted(SESSION_START, timestamp=now))
            tracker.update(SessionStarted(timestamp=now))
            tracker.update(ActionExecuted(ACTION_LISTEN, timestamp=now))

    async def _decide(self, tracker: DialogueTracker,
                      understanding: Understanding) -> tuple[Decision, Evidence | None]:
        """The policy's decision, settled with the knowledge base's evidence when it asks for it."""
        decision = self.policy.decide(understanding, tracker)
        evidence: Evidence | None = None
        if decision.consult:
            evidence = await self._evidence(understanding.text)
            decision = self.policy.with_evidence(decision, understanding, evidence)
        if decision.kind not in UNCOUNTED:
            metrics.INTENTS.labels(understanding.intent_name or "none").inc()
        log.debug("%s: %s -> %s", conversation_tag(tracker.conversation_id), understanding.intent, decision)
        return decision, evidence

    async def _evidence(self, text: str) -> Evidence | None:
        """What the knowledge base holds for `text` (None: this store has no answerer)."""
        if self.answerer is None:
            return None
        hits = await self.answerer.search_async(text)
        return Evidence(tuple(hits), self.answerer.knows(hits), hits[0].kind if hits else None,
                        self.recommender is not None)

    async def _run(self, tracker: DialogueTracker, decision: Decision, understanding: Understanding,
                   evidence: Evidence | None) -> AsyncIterator[Outbound]:
        for name, value in decision.sets:
            tracker.update(SlotSet(name, value))
        run = getattr(self, f"_run_{decision.kind}")
        async for event in run(tracker, decision, understanding, evidence):
            yield event
        if decision.resume_form and tracker.active_loop == decision.resume_form and tracker.slots.get("requested_slot"):
            yield self.render.form_resumed(tracker, tracker.slots["requested_slot"])

    # -- what each kind of decision runs ------------------------------------------------------------------------

    async def _run_restart(self, tracker: DialogueTracker, *_: Any) -> AsyncIterator[Outbound]:
        tracker.update(Restarted(timestamp=tracker.last_user_time()))
        yield self.render.utter(tracker, "utter_restarted")

    async def _run_consent(self, tracker: DialogueTracker, _: Decision, u: Understanding,
                           *__: Any) -> AsyncIterator[Outbound]:
        """`/consent{...}`: the shopper's privacy choice, an event of this conversation's log."""
        if u.command_event is None:
            yield Outbound("error", u.command_reply, code="invalid_consent")
            return
        tracker.update(dict(u.command_event))
        if "behaviour" in (u.command_event.get("withdrawn") or ()):
            from bot.privacy.behaviour import forget_behaviour   # the storefront events kept so far go now

            await forget_behaviour(self.store, tracker.conversation_id)
        tracker.update(BotUttered(u.command_reply))
        yield Outbound("message", u.command_reply, data={"consent": dict(u.command_event)})

    async def _run_nudge(self, tracker: DialogueTracker, _: Decision, u: Understanding,
                         *__: Any) -> AsyncIterator[Outbound]:
        """`/nudge{"wanted": false}`: the shopper says no to proactive nudges (`bot.nudges`), recorded so none
        comes again."""
        if u.command_event is None:
            yield Outbound("error", u.command_reply, code="invalid_nudge")
            return
        tracker.update(dict(u.command_event))
        tracker.update(BotUttered(u.command_reply))
        yield Outbound("message", u.command_reply, data={"nudge_refused": True})

    async def _run_with_agent(self, tracker: DialogueTracker, _: Decision, u: Understanding,
                              *__: Any) -> AsyncIterator[Outbound]:
        """A person has this chat: the bot stays quiet, the agent console hears the shopper."""
        for listener in self.listeners:
            listener(tracker.conversation_id, Outbound("message", u.text, data={"from": "shopper"}))
        yield Outbound("handoff", self.domain.response("utter_with_agent")["text"], data={"status": "with_agent"})

    async def _run_confirm(self, tracker: DialogueTracker, decision: Decision, *_: Any) -> AsyncIterator[Outbound]:
        async for event in self._action(tracker, decision.name or ""):
            yield event

    _run_action = _run_confirm
    _run_recommend = _run_confirm

    async def _run_form(self, tracker: DialogueTracker, decision: Decision, *_: Any) -> AsyncIterator[Outbound]:
        if decision.corrected:
            noted = self.render.corrected(tracker, decision.corrected)
            if noted is not None:
                yield noted
        async for event in self.forms.fill(tracker, decision.name or "", decision.fills, decision.activate,
                                           decision.then):
            yield event

    async def _run_stop_form(self, tracker: DialogueTracker, decision: Decision, *_: Any) -> AsyncIterator[Outbound]:
        deactivate(tracker)
        tracker.update(SlotSet("goal_action", None))
        if decision.then:
            async for event in self._action(tracker, decision.then):
                yield event
        else:
            yield self.render.utter(tracker, "utter_form_stopped")

    async def _run_response(self, tracker: DialogueTracker, decision: Decision, *_: Any) -> AsyncIterator[Outbound]:
        yield self.render.utter(tracker, decision.name or "")

    async def _run_clarify(self, tracker: DialogueTracker, decision: Decision, u: Understanding,
                           *_: Any) -> AsyncIterator[Outbound]:
        yield self.render.did_you_mean(tracker, decision.options, u.entities)

    async def _run_fallback(self, tracker: DialogueTracker, *_: Any) -> AsyncIterator[Outbound]:
        yield self.render.fallback(tracker)

    async def _run_answer(self, tracker: DialogueTracker, decision: Decision, u: Understanding,
                          evidence: Evidence | None) -> AsyncIterator[Outbound]:
        """A grounded answer from the knowledge base (the policy checked it knows enough, or a product is named)."""
        assert self.answerer is not None and evidence is not None
        extra = [product_source(u.named_product)] if u.named_product is not None else []
        history = tracker.history(self.answerer.history_messages, before_latest=True)
        readable = product_answer(u.text, u.named_product) if u.named_product is not None else None
        stream = self.answerer.answer(u.text, history, extra, list(evidence.hits), fallback=readable)
        yield Outbound("typing")
        async for chunk in stream:
            yield Outbound("chunk", chunk)
        reply = stream.reply
        final = reply.text if reply is not None else ""
        sources = list(reply.sources) if reply is not None else []
        note = self.review_notes(u.named_product, f"{u.text}\n{final}") \
            if self.review_notes is not None and u.named_product is not None and final else None
        if note:  # "The page says waterproof; 4 of 23 reviewers report leaks."
            yield Outbound("chunk", note)
            final = f"{final} {note}"
            sources.append(f"reviews:{u.named_product.id}")
        tracker.update(ActionExecuted("action_answer"))
        tracker.update(BotUttered(final, data={"sources": sources}))
        titles = self.source_titles(sources) if self.source_titles is not None else []
        yield Outbound("message", final, sources=sources, source_titles=titles,
                       data={"fallback": bool(reply and not reply.sources)})

    # -- actions --------------------------------------------------------------------------------------------------

    def _action_state(self, tracker: DialogueTracker) -> dict[str, Any]:
        """The tracker an action gets: the storefront events the shopper consented to (consent checked here, where
        the store's privacy settings are) in the latest message's `metadata.behaviour`, `{name, product_id}` each;
        the raw behaviour events are left out of `events`."""
        from bot.config import PrivacySettings
        from bot.privacy.behaviour import BEHAVIOUR, behaviour_history

        state = tracker.to_rasa_state()
        behaviour = behaviour_history(state["events"], self.options.privacy or PrivacySettings())
        state["events"] = [e for e in state["events"] if e.get("event") != BEHAVIOUR]
        latest = dict(state.get("latest_message") or {})
        latest["metadata"] = {**(latest.get("metadata") or {}),
                              "behaviour": [{"name": e["name"], "product_id": e["product_id"]} for e in behaviour]}
        state["latest_message"] = latest
        return state

    async def _action(self, tracker: DialogueTracker, name: str, depth: int = 0) -> AsyncIterator[Outbound]:
        if name in self.domain.responses:
            yield self.render.utter(tracker, name)
            return
        try:
            result = await self.executor.run(name, cast(TrackerState, self._action_state(tracker)), self._domain_dict)
        except ActionUnavailable as exc:
            async for event in self._actions_down(tracker, name, exc):
                yield event
            return
        tracker.update(ActionExecuted(name))
        for change in result.events:
            tracker.update(change)
        for response in result.responses:
            yield self.render.response(tracker, response)
        if tracker.paused:
            metrics.HANDOFFS.inc()
            yield Outbound("handoff", data={"status": "handed_off"})
        followup = tracker.followup_action
        if followup and depth < MAX_ACTIONS_PER_TURN:
            async for event in self._action(tracker, followup, depth + 1):
                yield event

    async def _actions_down(self, tracker: DialogueTracker, name: str, exc: Exception) -> AsyncIterator[Outbound]:
        """The action did not run (`utter_actions_down`), or, for one with side effects whose request may have
        reached the action server, it is not known whether it did (`utter_outcome_unknown`): never "it failed" for
        something that may still happen. The confirmation slots are kept, so "yes" again retries the same action; the
        retry is safe because the back-end does not repeat a change already made (a cancelled order stays cancelled,
        an open return is shown again), and a resent call of the same turn carries the same idempotency key."""
        deactivate(tracker)
        if isinstance(exc, ActionOutcomeUnknown):
            log.warning("action %s outcome unknown: %s", name, exc)
            yield self.render.outcome_unknown(tracker)
            return
        log.warning("action %s unavailable: %s", name, exc)
        yield self.render.utter(tracker, "utter_actions_down")
