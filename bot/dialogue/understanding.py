"""One message's `Understanding`, built once per turn: commands, button payloads, the NLU parse (or entities alone
without a model), the product it names, whether it refines the last product list, its product filters and what it
gives the active form. Nothing here decides what to do: that is `bot.dialogue.policy`.

>>> understanding = await Understander(domain, parser, recommender).understand("cheaper?", "web", now, tracker)
>>> understanding.follow_up
True
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, cast

from bot.dialogue.domain import Domain
from bot.dialogue.tracker import DialogueTracker
from bot.interfaces import Command, EntityExtractor, IntentScore, Parser, Recommender, Sentiment, Understanding

PAYLOAD = re.compile(r"^/(\w+)(\{.*\})?$", re.DOTALL)
RESTART = "/restart"
# entities that narrow a product search: a message with one is about products (order ids and emails are not)
PRODUCT_FILTER_ENTITIES = frozenset({"price", "price_range", "size", "color", "brand", "category"})


def form_fills(domain: Domain, form: str, entities: Sequence[Mapping[str, Any]], text: str,
               slots: Mapping[str, Any], from_text: bool = True) -> dict[str, Any]:
    """What a message gives `form`'s slots (by the domain's slot mappings). When it names two values of one entity
    and one is a slot's current value ("10441, not 10414"), the other one is meant."""
    named = [e["entity"] for e in entities]
    if len(named) != len(set(named)):
        current = {str(v) for v in slots.values() if isinstance(v, (str, int, float)) and not isinstance(v, bool)}
        repeated = {n for n in named if named.count(n) > 1}
        entities = sorted(entities, key=lambda e: e["entity"] in repeated and str(e.get("value")) in current)
    return domain.form_slot_values(form, cast(list[dict[str, Any]], entities), text, slots.get("requested_slot"),
                                   from_text=from_text)


class Understander:
    """Builds the `Understanding` of each message for one store's domain, NLU and catalog."""

    def __init__(self, domain: Domain, parser: Parser | None = None, recommender: Recommender | None = None):
        self.domain = domain
        self.parser = parser
        self.recommender = recommender
        self._extractor: EntityExtractor | None = parser.extractor if parser is not None else None
        if self._extractor is None and recommender is not None:  # no NLU: entities from the catalog's rules alone
            from bot.nlu.entities import EntityExtractor as CatalogExtractor

            self._extractor = CatalogExtractor.from_catalog(recommender.search.kb.products)

    async def understand(self, text: str, channel: str, now: float, tracker: DialogueTracker) -> Understanding:
        """The understanding of `text` (already whitespace-normalised) in this conversation."""
        command = self._command(text, channel, now)
        if command is not None:
            return command
        source, parse = await self._parse(text)
        entities = tuple(parse.get("entities") or ())
        context = {} if tracker.paused else self._context(text, entities, tracker)  # a person has the chat: no more
        return _from_parse(text, source, parse, entities, context)

    # -- the message itself ----------------------------------------------------------------------------------

    @staticmethod
    def _command(text: str, channel: str, now: float) -> Understanding | None:
        """`/restart`, `/consent{...}` and `/nudge{...}`: acted on as they are, never parsed."""
        parse = {"text": text, "intent": {"name": None, "confidence": 1.0}, "entities": [], "source": "command"}
        if text.lower() == RESTART:
            return Understanding(text, "command", IntentScore(None, 1.0), command="restart", parse_data=parse)
        if text.startswith("/nudge"):
            from bot.nudges import nudge_turn

            event, reply = nudge_turn(text, channel, now)
            command: Command = "nudge"
        elif text.startswith("/consent"):
            from bot.privacy.consent import consent_turn  # only for consent payloads: it reads the privacy settings

            event, reply = consent_turn(text, channel, now)
            command = "consent"
        else:
            return None
        if not reply:
            return None
        return Understanding(text, "command", IntentScore(None, 1.0), command=command, command_event=event,
                             command_reply=reply, parse_data=parse)

    async def _parse(self, text: str) -> tuple[str, dict[str, Any]]:
        payload = PAYLOAD.match(text)
        if payload and payload.group(1) in self.domain.intents:
            return "payload", _payload_parse(text, payload.group(1), payload.group(2))
        if self.parser is None:
            entities = self._extractor.extract(text) if self._extractor is not None else []
            return "none", {"text": text, "intent": {"name": None, "confidence": 0.0}, "intent_ranking": [],
                            "entities": entities}
        return "nlu", await self.parser.parse_async(text)

    # -- the message in its conversation ---------------------------------------------------------------------

    def _context(self, text: str, entities: tuple[Mapping[str, Any], ...], tracker: DialogueTracker
                 ) -> dict[str, Any]:
        """What the message means here: the active form's fills, product filters, the named product, a follow-up."""
        form = tracker.active_loop
        context: dict[str, Any] = {
            "fills": form_fills(self.domain, form, entities, text, tracker.slots) if form in self.domain.forms else {},
            "product_filters": tuple(dict.fromkeys(e["entity"] for e in entities
                                                   if e["entity"] in PRODUCT_FILTER_ENTITIES))}
        if self.recommender is None:
            return context
        named = self._named_product(entities)
        state = tracker.slots.get("product_state") or {}
        context["named_product"] = named
        context["list_request"] = named is not None and _asks_for_a_list(text)
        context["follow_up"] = bool(state) and self.recommender.follow_up_filters(text, state) is not None
        return context

    def _named_product(self, entities: tuple[Mapping[str, Any], ...]) -> Any:
        assert self.recommender is not None
        value = next((e["value"] for e in entities if e["entity"] == "product"), None)
        if value is None:
            return None
        search = self.recommender.search
        return search.kb.product(str(value)) or search.resolve(str(value))


def _payload_parse(text: str, intent: str, body: str | None) -> dict[str, Any]:
    """A button's `/intent{"entity": value}`: the intent for sure, its entities as given."""
    try:
        values = json.loads(body) if body else {}
    except json.JSONDecodeError:
        values = {}
    entities = [{"entity": k, "value": v} for k, v in (values.items() if isinstance(values, dict) else [])]
    scored = {"name": intent, "confidence": 1.0}
    return {"text": text, "intent": scored, "intent_ranking": [scored], "entities": entities,
            "sentiment": {"label": "neutral", "score": 1.0}}


def _from_parse(text: str, source: str, parse: dict[str, Any], entities: tuple[Mapping[str, Any], ...],
                context: dict[str, Any]) -> Understanding:
    intent = parse.get("intent") or {}
    sentiment = parse.get("sentiment") or None
    return Understanding(
        text, source,  # type: ignore[arg-type]
        intent=IntentScore(intent.get("name"), float(intent.get("confidence") or 0.0)),
        ranking=tuple(IntentScore(r.get("name"), float(r.get("confidence") or 0.0))
                      for r in parse.get("intent_ranking") or []),
        entities=entities,
        sentiment=Sentiment(str(sentiment.get("label")), float(sentiment.get("score") or 0.0)) if sentiment else None,
        parse_data={**parse, "source": source}, **context)


def _asks_for_a_list(text: str) -> bool:
    """"similar to the ...", "what goes with the ...", "compare X and Y": products around the named one (or side by
    side with it), not its own facts."""
    from retrieval.compare import asks_to_compare
    from retrieval.products import GOES_WITH_PATTERN, SIMILAR_PATTERN  # loaded with the recommender already

    return bool(SIMILAR_PATTERN.search(text) or GOES_WITH_PATTERN.search(text) or asks_to_compare(text))
