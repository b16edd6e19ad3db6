"""The dialogue engine: `handle(inbound)` turns one shopper message into outbound events, for any channel.

One turn: lock the conversation, load its events, parse the message (NLU, or a `/intent{...}` button payload), let
the policy decide, run it (a form, a rasa-sdk action, a response, a grounded answer, product cards, a handoff),
stream the outbound events, and append the turn's events to the store in one transaction.

>>> async for event in engine.handle(Inbound("shopper-1", "where is my order?")):
...     print(event.type, event.text)
message What's your order number? It's the 5-digit number in your confirmation email.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import random
import re
import secrets
import time
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from rasa_sdk.events import (ActionExecuted, ActiveLoop, BotUttered, ConversationResumed, Restarted, SessionStarted,
                             SlotSet, UserUttered)

from bot import metrics
from bot.dialogue.domain import Domain
from bot.dialogue.errors import StateUnavailable
from bot.dialogue.executor import ActionOutcomeUnknown, ActionRunner, ActionUnavailable
from bot.dialogue.locks import ConversationLocks, LocalLocks
from bot.dialogue.policy import Decision, Policy
from bot.dialogue.store import ConversationStore
from bot.dialogue.tracker import ACTION_LISTEN, SESSION_START, DialogueTracker
from bot.messages import Inbound, Outbound
from bot.nlu.entities import EntityExtractor
from bot.nlu.parser import NluParser
from bot.privacy.consent import consent_turn
from bot.responder.answerer import Answerer
from bot.responder.prompt import product_source
from retrieval.documents import Product
from retrieval.recommend import Recommender

log = logging.getLogger("shopbot.engine")
PAYLOAD = re.compile(r"^/(\w+)(\{.*\})?$", re.DOTALL)
MAX_ACTIONS_PER_TURN = 10
STREAMED = ("typing", "chunk")   # sent as they come; replies (`message`, `handoff`) wait for the turn's commit
TRY_AGAIN = "Sorry, I can't reach our systems right now. Please send that again in a moment."
RESTARTING = "The assistant is restarting. Please send that again in a moment."
INTERNAL = "Sorry, something went wrong on our side. Please try again."
OUTCOME_UNKNOWN = {"text": "Our order system didn't answer in time, so I can't tell yet whether that went through. "
                           "It's safe to ask again: it won't be done twice. Or talk to a person.",
                   "buttons": [{"title": "Talk to a person", "payload": "/human_handoff"}]}
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


class Engine:
    """Transport-agnostic: channels call `handle`, agents call `agent_message` and `resume`."""

    def __init__(self, domain: Domain, store: ConversationStore, executor: ActionRunner,
                 parser: NluParser | None = None, answerer: Answerer | None = None,
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
        self.locks = locks or LocalLocks()
        self.options = options or EngineOptions()
        self.policy = Policy(domain, self.options.ask_below)
        self.rng = rng or random.Random()
        self._domain_dict = domain.as_rasa_dict()
        self._entities = parser.extractor if parser is not None else (
            EntityExtractor.from_catalog(recommender.search.kb.products) if recommender is not None else None)
        self.listeners: list[Callable[[str, Outbound], Any]] = []   # agent consoles: shopper messages while paused
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
            return self._utter(tracker, "utter_back_to_bot")

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

    async def _turn(self, tracker: DialogueTracker, inbound: Inbound) -> AsyncIterator[Outbound]:
        if inbound.message_id and tracker.has_message(inbound.message_id):
            return  # a platform's retry of a message already answered: no second reply (a cut turn is run again)
        now = inbound.timestamp if inbound.timestamp is not None else time.time()
        text = " ".join(inbound.text.split())
        if not tracker.events or tracker.session_expired(now):
            tracker.update(ActionExecuted(SESSION_START, timestamp=now))
            tracker.update(SessionStarted(timestamp=now))
            tracker.update(ActionExecuted(ACTION_LISTEN, timestamp=now))
        restart = text.lower() == "/restart"
        consent, consent_reply = consent_turn(text, inbound.channel, now)
        command = restart or bool(consent_reply)
        parse = {"text": text, "intent": {"name": None, "confidence": 1.0}, "entities": [], "source": "command"} \
            if command else await self._parse(text)
        # the message id is recorded with every message, `/restart` included, so a platform's retry is recognised
        tracker.update({**UserUttered(text, parse_data=parse, input_channel=inbound.channel, timestamp=now),
                        "metadata": {"message_id": inbound.message_id, **inbound.metadata}})
        if restart:
            tracker.update(Restarted(timestamp=now))
            yield self._utter(tracker, "utter_restarted")
            tracker.update(ActionExecuted(ACTION_LISTEN))
            return
        if consent_reply:  # `/consent{...}`: the shopper's privacy choice, an event of this conversation's log
            if consent is None:
                yield Outbound("error", consent_reply, code="invalid_consent")
            else:
                tracker.update(consent)
                tracker.update(BotUttered(consent_reply))
                yield Outbound("message", consent_reply, data={"consent": consent})
            tracker.update(ActionExecuted(ACTION_LISTEN))
            return
        if tracker.paused:  # a person has this chat: the bot stays quiet, the agent console hears the shopper
            for listener in self.listeners:
                listener(tracker.conversation_id, Outbound("message", text, data={"from": "shopper"}))
            yield Outbound("handoff", self.domain.response("utter_with_agent")["text"], data={"status": "with_agent"})
            tracker.update(ActionExecuted(ACTION_LISTEN))  # the turn's end: the message counts as answered
            return
        metrics.INTENTS.labels((parse.get("intent") or {}).get("name") or "none").inc()
        named = self._named_product(text, parse)
        if named is not None:
            tracker.update(SlotSet("product", named.id))
        product_state = tracker.slots.get("product_state") or {}
        follow_up = self.recommender is not None and self.recommender.follow_up_filters(text, product_state) is not None
        decision = self.policy.decide(tracker, parse, text, follow_up, bool(tracker.slots.get("product")),
                                      product_named=named is not None)
        log.debug("%s: %s -> %s", conversation_tag(tracker.conversation_id), parse.get("intent"), decision)
        fell_back = False
        async for event in self._run(tracker, decision, text, named):
            if event.data.get("fallback"):
                fell_back = True
            yield event
        fallbacks = int(tracker.slots.get("fallbacks_in_a_row") or 0)
        offered = False
        if fell_back:
            metrics.FALLBACKS.inc()
            tracker.update(SlotSet("fallbacks_in_a_row", fallbacks + 1))
            if fallbacks + 1 >= self.options.max_fallbacks and not tracker.paused:
                offered = True
                yield self._utter(tracker, "utter_offer_handoff")
        elif fallbacks:
            tracker.update(SlotSet("fallbacks_in_a_row", 0))
        sentiment = parse.get("sentiment") or {}
        if (sentiment.get("label") == "negative" and float(sentiment.get("score") or 0) >= self.options.handoff_sentiment
                and not tracker.paused and not tracker.slots.get("handoff_offered") and not offered):
            tracker.update(SlotSet("handoff_offered", True))
            yield self._utter(tracker, "utter_sorry_upset")
        tracker.update(ActionExecuted(ACTION_LISTEN))

    async def _run(self, tracker: DialogueTracker, decision: Decision, text: str,
                   named: Product | None) -> AsyncIterator[Outbound]:
        kind = decision.kind
        if kind == "confirm":
            tracker.update(SlotSet("confirmed", decision.confirmed))
            async for event in self._action(tracker, decision.name or ""):
                yield event
        elif kind == "form":
            async for event in self._form(tracker, decision):
                yield event
        elif kind == "stop_form":
            self._deactivate(tracker)
            tracker.update(SlotSet("goal_action", None))
            if decision.then:
                async for event in self._action(tracker, decision.then):
                    yield event
            else:
                yield self._utter(tracker, "utter_form_stopped")
        elif kind in ("action", "recommend"):
            async for event in self._action(tracker, decision.name or ""):
                yield event
        elif kind == "response":
            yield self._utter(tracker, decision.name or "")
        elif kind == "clarify":
            entities = {e["entity"]: e["value"] for e in (tracker.latest_message.get("entities") or [])
                        if isinstance(e.get("value"), (str, int, float))}
            suffix = json.dumps(entities) if entities else ""
            buttons = [{"title": self.domain.title(i), "payload": f"/{i}{suffix}"} for i in decision.options]
            buttons.append({"title": "Something else", "payload": "/help"})
            yield self._say(tracker, "utter_did_you_mean",
                            {**self.domain.response("utter_did_you_mean", rng=self.rng), "buttons": buttons})
        else:
            async for event in self._answer(tracker, text, named):
                yield event
        if decision.resume_form and tracker.active_loop == decision.resume_form:
            requested = tracker.slots.get("requested_slot")
            if requested:
                resume = self.domain.response("utter_form_resume", rng=self.rng)["text"]
                ask = self.domain.response(f"utter_ask_{requested}", rng=self.rng)
                yield self._say(tracker, f"utter_ask_{requested}", {**ask, "text": f"{resume} {ask['text']}"})

    # -- forms ------------------------------------------------------------------------------------------------------

    async def _form(self, tracker: DialogueTracker, decision: Decision) -> AsyncIterator[Outbound]:
        form = decision.name or ""
        if decision.activate:
            if tracker.active_loop and tracker.active_loop != form:
                self._deactivate(tracker)
            tracker.update(ActiveLoop(form))
            tracker.update(SlotSet("goal_action", decision.then))
        message = tracker.latest_message
        candidates = self.domain.form_slot_values(form, message.get("entities") or [], str(message.get("text") or ""),
                                                  tracker.slots.get("requested_slot"), from_text=not decision.activate)
        validator = f"validate_{form}"
        if validator in self.domain.actions:
            state = tracker.to_rasa_state()
            state["events"] = state["events"] + [SlotSet(k, v) for k, v in candidates.items()]
            state["slots"] = {**state["slots"], **candidates}
            try:
                result = await self.executor.run(validator, state, self._domain_dict)
            except ActionUnavailable as exc:
                async for event in self._actions_down(tracker, validator, exc):
                    yield event
                return
            for event in result.events:
                tracker.update(event)
            for response in result.responses:
                yield self._response(tracker, response)
        else:
            for name, value in candidates.items():
                tracker.update(SlotSet(name, value))
        if tracker.active_loop != form:  # the validator stopped the form (identity checks used up)
            tracker.update(SlotSet("requested_slot", None))
            tracker.update(SlotSet("goal_action", None))
            return
        missing = next((s for s in self.domain.forms[form].required_slots if tracker.slots.get(s) in (None, "")), None)
        if missing is not None:
            tracker.update(SlotSet("requested_slot", missing))
            yield self._utter(tracker, f"utter_ask_{missing}")
            return
        self._deactivate(tracker)
        goal = tracker.slots.get("goal_action")
        if goal:
            async for event in self._action(tracker, goal):
                yield event

    def _deactivate(self, tracker: DialogueTracker) -> None:
        if tracker.active_loop is not None:
            tracker.update(ActiveLoop(None))
        tracker.update(SlotSet("requested_slot", None))

    # -- actions, responses, answers -----------------------------------------------------------------------------

    async def _action(self, tracker: DialogueTracker, name: str, depth: int = 0) -> AsyncIterator[Outbound]:
        if name in self.domain.responses:
            yield self._utter(tracker, name)
            return
        try:
            result = await self.executor.run(name, tracker.to_rasa_state(), self._domain_dict)
        except ActionUnavailable as exc:
            async for event in self._actions_down(tracker, name, exc):
                yield event
            return
        tracker.update(ActionExecuted(name))
        for event in result.events:
            tracker.update(event)
        for response in result.responses:
            yield self._response(tracker, response)
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
        self._deactivate(tracker)
        if isinstance(exc, ActionOutcomeUnknown):
            log.warning("action %s outcome unknown: %s", name, exc)
            message = self.domain.response("utter_outcome_unknown", rng=self.rng) \
                if "utter_outcome_unknown" in self.domain.responses else OUTCOME_UNKNOWN
            yield self._say(tracker, "utter_outcome_unknown", message)
            return
        log.warning("action %s unavailable: %s", name, exc)
        yield self._utter(tracker, "utter_actions_down")

    async def _answer(self, tracker: DialogueTracker, text: str, named: Product | None) -> AsyncIterator[Outbound]:
        """A grounded answer from the knowledge base, or the honest fallback when nothing there is close enough."""
        extra = [product_source(named)] if named is not None else []
        hits = await self.answerer.search_async(text) if self.answerer is not None else []
        if self.answerer is None or (not extra and not self.answerer.knows(hits)):
            message = self._utter(tracker, "utter_fallback")
            message.data["fallback"] = True
            yield message
            return
        if not extra and hits[0].kind == "product" and self.recommender is not None and \
                (tracker.latest_message.get("intent") or {}).get("name") in (None, "oos"):
            async for event in self._action(tracker, "action_recommend_products"):  # no NLU: the best hit decides
                yield event
            return
        history = tracker.history(self.answerer.history_messages, before_latest=True)
        stream = self.answerer.answer(text, history, extra, hits)
        yield Outbound("typing")
        async for chunk in stream:
            yield Outbound("chunk", chunk)
        reply = stream.reply
        final = reply.text if reply is not None else ""
        sources = list(reply.sources) if reply is not None else []
        tracker.update(ActionExecuted("action_answer"))
        tracker.update(BotUttered(final, data={"sources": sources}))
        yield Outbound("message", final, sources=sources, data={"fallback": bool(reply and not reply.sources)})

    def _utter(self, tracker: DialogueTracker, name: str) -> Outbound:
        return self._say(tracker, name, self.domain.response(name, {**tracker.slots, "store_name": self.store_name},
                                                             self.rng))

    def _say(self, tracker: DialogueTracker, name: str, message: dict[str, Any]) -> Outbound:
        tracker.update(ActionExecuted(name))
        tracker.update(BotUttered(message.get("text"), data={"buttons": message.get("buttons") or []}))
        return Outbound("message", message.get("text") or "", buttons=message.get("buttons") or [])

    def _response(self, tracker: DialogueTracker, response: dict[str, Any]) -> Outbound:
        """A rasa-sdk response dict (text, buttons, custom, image, or a named `response`) as an outbound message."""
        template = response.get("response") or response.get("template")
        if template and template in self.domain.responses:
            rendered = self.domain.response(template, {**tracker.slots, **(response.get("kwargs") or {})}, self.rng)
            response = {**rendered, **{k: v for k, v in response.items() if v}}
        custom = response.get("custom") or {}
        cards = list(custom.get("cards") or []) if isinstance(custom, dict) else []
        data = {k: v for k, v in custom.items() if k != "cards"} if isinstance(custom, dict) else {"custom": custom}
        if response.get("image"):
            data["image"] = response["image"]
        text = response.get("text") or ""
        buttons = list(response.get("buttons") or [])
        tracker.update(BotUttered(text, data={"buttons": buttons, "custom": custom or None}))
        return Outbound("message", text, buttons=buttons, cards=cards, data=data)

    # -- understanding --------------------------------------------------------------------------------------------

    async def _parse(self, text: str) -> dict[str, Any]:
        payload = PAYLOAD.match(text)
        if payload and payload.group(1) in self.domain.intents:
            try:
                values = json.loads(payload.group(2)) if payload.group(2) else {}
            except json.JSONDecodeError:
                values = {}
            entities = [{"entity": k, "value": v} for k, v in (values.items() if isinstance(values, dict) else [])]
            intent = {"name": payload.group(1), "confidence": 1.0}
            return {"text": text, "intent": intent, "intent_ranking": [intent], "entities": entities,
                    "sentiment": {"label": "neutral", "score": 1.0}, "source": "payload"}
        if self.parser is None:
            entities = self._entities.extract(text) if self._entities is not None else []
            return {"text": text, "intent": {"name": None, "confidence": 0.0}, "intent_ranking": [],
                    "entities": entities, "source": "none"}
        parse = await self.parser.parse_async(text)
        return {**parse, "source": "nlu"}

    def _named_product(self, text: str, parse: dict[str, Any]) -> Product | None:
        if self.recommender is None:
            return None
        for entity in parse.get("entities") or []:
            if entity["entity"] == "product":
                value = str(entity["value"])
                return self.recommender.search.kb.product(value) or self.recommender.search.resolve(value)
        return None
