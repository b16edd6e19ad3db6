"""One turn of a shopper's chat, before the dialogue engine: product cards or a grounded answer.

Product requests (by intent when an NLU model is loaded, else when the best retrieval hit is a product) and
short follow-ups on the last list ("cheaper?", "in black?") get cards; everything else goes to retrieval and
the responder. The dialogue engine (forms, actions, handoff) builds on the same parts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal

from bot.config import Settings
from bot.knowledge import StoreKnowledge
from bot.nlu.entities import EntityExtractor
from bot.nlu.parser import NluParser
from bot.responder.answerer import Answerer
from bot.responder.lm import DEFAULT_LM, load_language_model, resolve_device
from bot.responder.recommend import ProductCard, Recommender, product_source
from bot.responder.responder import ReplyStream, Responder, fixed_reply
from bot.responder.training import latest_adapter
from retrieval.documents import Product
from retrieval.loaders import KnowledgeBase
from retrieval.products import GOES_WITH_PATTERN, SIMILAR_PATTERN

PRODUCT_INTENTS = {"product_search", "product_recommendation", "product_comparison"}


def load_responder(settings: Settings, kb: KnowledgeBase) -> Responder:
    """The responder the settings describe; the store's product titles and brands are names it must not invent."""
    names = [p.title for p in kb.products] + [p.brand for p in kb.products if p.brand]
    options = settings.responder
    adapter = None
    if options.adapter == "auto":
        adapter = latest_adapter(settings.cache_dir, options.model)
    elif options.adapter != "none":
        adapter = options.adapter
    device = resolve_device(settings.device)
    mode = options.mode
    if mode == "auto":
        mode = "generate" if adapter is not None or device != "cpu" or options.model != DEFAULT_LM else "extractive"
    if mode == "extractive":
        return Responder(None, names)
    lm = load_language_model(options.model, device, settings.cache_dir, adapter=adapter)
    return Responder(lm, names, options.max_new_tokens, options.prompt_tokens)


@dataclass
class Turn:
    """What the bot does this turn: a streamed text, and product cards when it recommends."""

    kind: Literal["answer", "products"]
    stream: ReplyStream
    cards: list[ProductCard] = field(default_factory=list)
    parse: dict[str, Any] | None = None


class Assistant:
    """Routes a message to recommendations or to an answer; remembers the last product list for follow-ups."""

    def __init__(self, store: StoreKnowledge, responder: Responder, parser: NluParser | None = None,
                 settings: Settings | None = None):
        settings = settings or Settings()
        self.store = store
        self.responder = responder
        self.parser = parser
        self.answerer = Answerer(store.index, responder, store.kb.name, settings.responder.k_sources,
                                 settings.answer_min_similarity, catalog=store.kb.product)
        self._entities = parser.extractor if parser is not None else EntityExtractor.from_catalog(store.kb.products)
        self.recommender = Recommender(store.products, settings.store_url)
        self.history: list[tuple[str, str]] = []
        self.product_state: dict[str, Any] = {}

    def turn(self, text: str) -> Turn:
        """Start this message's reply (iterate `turn.stream` for the text)."""
        parse = self.parser.parse(text) if self.parser is not None else None
        named = self._named_product(text, parse)
        asks_about_named = named is not None and not (SIMILAR_PATTERN.search(text) or GOES_WITH_PATTERN.search(text))
        hits = None
        if not asks_about_named:
            wants_products = self.recommender.follow_up_filters(text, self.product_state) is not None
            if not wants_products and parse is not None and parse["intent"]["name"] != "oos":
                wants_products = parse["intent"]["name"] in PRODUCT_INTENTS
            elif not wants_products:  # no intent to go by: the best passage decides
                hits = self.answerer.search(text)
                wants_products = bool(hits) and hits[0].kind == "product"
            if wants_products:
                # Cards plus a lead sentence built from the filters and prices: SmolLM2-135M's blurbs described
                # one product of four, so the lead is a template over the cards' own facts.
                recommendation = self.recommender.recommend(text, self.product_state)
                self.product_state = recommendation.state
                return Turn("products", self._remember(text, fixed_reply(recommendation.lead)), recommendation.cards,
                            parse)
        extra = [product_source(named)] if named is not None else []
        stream = self.answerer.answer(text, self.history[-4:], extra, hits)
        return Turn("answer", self._remember(text, stream), parse=parse)

    def _named_product(self, text: str, parse: dict[str, Any] | None) -> Product | None:
        """The catalog product the message names ("is the Tern Road Runner 3 waterproof?"), if any."""
        entities = parse["entities"] if parse is not None else self._entities.extract(text)
        names = [str(e["value"]) for e in entities if e["entity"] == "product"]
        return self.store.products.resolve(names[0]) if names else None

    def _remember(self, text: str, stream: ReplyStream) -> ReplyStream:
        """The same stream, adding the exchange to the history once the reply is complete."""
        history = self.history

        async def chunks(holder: ReplyStream) -> AsyncIterator[str]:
            async for chunk in stream:
                yield chunk
            holder.reply = stream.reply
            history.extend([("user", text), ("assistant", stream.reply.text if stream.reply else "")])

        return ReplyStream(chunks)
