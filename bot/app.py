"""Putting a store's bot together from settings: knowledge, NLU, responder, domain, actions, store and locks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.config import DEMO_KB, BatchingSettings, Settings
from bot.dialogue.domain import Domain, load_domain
from bot.dialogue.executor import ActionRunner, InProcessExecutor, RemoteExecutor
from bot.dialogue.locks import ConversationLocks, LocalLocks, RedisLocks
from bot.dialogue.store import ConversationStore
from bot.engine import Engine, EngineOptions
from bot.generation.factory import open_generator
from bot.inference.batcher import MicroBatcher
from bot.knowledge import StoreKnowledge, store_recommender
from bot.nlu.parser import NluParser
from bot.privacy.redaction import TranscriptRedactor
from bot.responder.answerer import Answerer
from bot.responder.grounding import lowercase_words, store_fact_lines
from bot.responder.lm import DEFAULT_LM
from bot.responder.review_summary import ReviewSummarizer
from bot.responder.responder import Responder
from bot.responder.training import latest_adapter
from bot.review_insights import StoreReviews, review_folder
from bot.source_titles import SourceTitles
from retrieval.device import resolve_device
from retrieval.loaders import KnowledgeBase


def load_responder(settings: Settings, kb: KnowledgeBase) -> Responder:
    """The responder the settings describe; the store's product titles and brands are names it must not invent."""
    names = [p.title for p in kb.products] + [p.brand for p in kb.products if p.brand]
    options = settings.responder
    adapter = None
    if options.adapter == "auto":
        adapter = latest_adapter(settings.cache_dir, options.model)
    elif options.adapter != "none":
        adapter = Path(options.adapter)
    device = resolve_device(settings.device)
    # The guard's support besides each reply's sources: the store's facts; its texts' words are no invented names.
    facts = store_fact_lines(kb.facts)
    vocabulary = lowercase_words([p.text for p in kb.passages()] + facts)
    if responder_mode(settings, adapter, device) == "extractive":
        return Responder(None, names, facts=facts, vocabulary=vocabulary)
    generator = open_generator(options, device, settings.cache_dir, adapter)
    return Responder(generator, names, options.max_new_tokens, options.prompt_tokens, facts=facts,
                     vocabulary=vocabulary, deadline_ms=options.deadline_ms)


def responder_mode(settings: Settings, adapter: Path | None, device: str) -> str:
    """`generate` or `extractive`: what `responder.mode: auto` means with these settings (see ResponderSettings)."""
    options = settings.responder
    if options.mode != "auto":
        return options.mode
    tuned_or_fast = adapter is not None or device != "cpu" or options.endpoint
    return "generate" if tuned_or_fast or options.model != DEFAULT_LM else "extractive"


def domain_path(settings: Settings) -> Path:
    """The configured domain, else the store's `domain.yml`, else the demo's (a generic shop's dialogue)."""
    if settings.dialogue.domain is not None:
        return settings.dialogue.domain
    own = settings.kb_dir / "domain.yml"
    return own if own.is_file() else DEMO_KB / "domain.yml"


def load_store_domain(settings: Settings, nlu_intents: list[str] | None = None) -> Domain:
    """The store's domain; a store's own domain must declare every intent of its NLU data (intents of a store
    using the default domain that it has no rule for are answered from the knowledge base)."""
    path = domain_path(settings)
    own = settings.dialogue.domain is not None or path.parent.resolve() == settings.kb_dir.resolve()
    return load_domain(path, nlu_intents if own else None)


def conversation_store(settings: Settings) -> ConversationStore:
    """The configured store; without Redis it locks its database for this process (a second process refuses)."""
    return ConversationStore(settings.dialogue.database or settings.data_dir / "conversations.db",
                             TranscriptRedactor(pii=settings.privacy.redact_transcripts),
                             exclusive=not settings.dialogue.redis_url)


def action_runner(settings: Settings) -> ActionRunner:
    options = settings.dialogue
    if options.action_server_url:
        return RemoteExecutor(options.action_server_url, options.action_timeout_s, options.action_attempts)
    return InProcessExecutor()


def conversation_locks(settings: Settings) -> ConversationLocks:
    return RedisLocks(settings.dialogue.redis_url) if settings.dialogue.redis_url else LocalLocks()


@dataclass
class StoreBot:
    """A store's engine and the parts it was built from."""

    engine: Engine
    knowledge: StoreKnowledge
    responder: Responder
    parser: NluParser | None
    reviews: StoreReviews | None = None   # review insights (scored on first use, or by `warm_up`)


def build_bot(settings: Settings, knowledge: StoreKnowledge, responder: Responder, parser: NluParser | None,
              store: ConversationStore | None = None, executor: ActionRunner | None = None) -> StoreBot:
    """The engine for a loaded store. In-process actions share its recommender (no second index)."""
    from actions.reviews import set_review_service
    from actions.services import get_backend, install_store, ledger_defaults, orders_file, set_recommender

    intents = sorted(parser.intents) if parser is not None else None
    domain = load_store_domain(settings, intents)
    recommender = store_recommender(knowledge, settings)  # as an action server opens it (`retrieval.store`)
    executor = executor or action_runner(settings)
    reviews = StoreReviews(knowledge.kb, review_folder(settings, knowledge.kb), parser)
    if isinstance(executor, InProcessExecutor):
        set_recommender(recommender)
        set_review_service(reviews.insights, ReviewSummarizer(responder, knowledge.kb.name).summarize)
        ledger_defaults(settings.data_dir, settings.dialogue.redis_url, settings.guard.database)
        # another store: its orders and policy, never the demo's; the demo: unless a back-end is installed already
        install_store(settings.kb_dir, settings, replace=settings.kb_dir.resolve() != DEMO_KB.resolve())
        has_orders = get_backend() is not None
    else:
        has_orders = orders_file(settings.kb_dir, settings) is not None
    if not has_orders:  # no order system: responses that offer order look-ups use their `_no_orders` variant
        for name in [n for n in domain.responses if f"{n}_no_orders" in domain.responses]:
            domain.responses[name] = domain.responses[f"{name}_no_orders"]
    answerer = Answerer(knowledge.index, responder, knowledge.kb.name, settings.responder.k_sources,
                        settings.answer_min_similarity, catalog=knowledge.kb.product,
                        history_messages=settings.responder.history_messages)
    options = EngineOptions(settings.dialogue.ask_below, settings.dialogue.handoff_sentiment,
                            settings.dialogue.max_fallbacks, settings.privacy)
    engine = Engine(domain, store or conversation_store(settings), executor, parser, answerer, recommender,
                    conversation_locks(settings), options, store_name=knowledge.kb.name)
    engine.review_notes = reviews.note_for   # a product answer a review disputes says so
    engine.source_titles = SourceTitles(knowledge.kb)   # "Returns: How do I start a return?", not "faq:..."
    bot = StoreBot(engine, knowledge, responder, parser, reviews)
    batch_models(bot, settings.batching)
    return bot


def batch_models(bot: StoreBot, options: BatchingSettings) -> None:
    """Run the encoder models of concurrent turns together: NLU and query embeddings in micro-batches
    (`batching.enabled: false` runs each request alone). Replies batch inside their engine."""
    if not options.enabled:
        return
    if bot.parser is not None and bot.parser.batcher is None:
        bot.parser.batcher = MicroBatcher("nlu", bot.parser.parse_batch, options.nlu_max_batch, options.max_wait_ms)
    embedder = bot.knowledge.index.embedder
    if embedder.batcher is None:
        embedder.batcher = MicroBatcher("embed", embedder.encode_batch, options.embed_max_batch, options.max_wait_ms)


def warm_up(bot: StoreBot) -> None:
    """Load every lazily loaded model now (one query through each), so the first shopper does not wait."""
    bot.knowledge.index.search("where is my order", k=1)
    if bot.parser is not None:
        bot.parser.parse("where is my order")
    if bot.reviews is not None and bot.knowledge.kb.reviews:
        bot.reviews.insights()   # reviews scored by the sentiment head once per version, loaded from the cache after
