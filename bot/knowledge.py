"""Opens a store for the bot: loads and validates its knowledge base, then loads or builds its search index."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from bot.config import Settings, make_embedder
from retrieval.embeddings import Embedder
from retrieval.index import KnowledgeIndex, load_or_build
from retrieval.loaders import KnowledgeBase, load_knowledge_base
from retrieval.loaders.policies import slugify
from retrieval.products import ProductSearch


@dataclass
class StoreKnowledge:
    """A loaded store: its data, its index and product search."""

    kb: KnowledgeBase
    index: KnowledgeIndex
    products: ProductSearch
    index_built: bool


def index_folder(settings: Settings, kb: KnowledgeBase) -> Path:
    """Where a store's index is cached: one folder per knowledge-base location."""
    location = hashlib.sha1(str(kb.root.resolve()).encode()).hexdigest()[:8]
    return settings.cache_dir / "index" / f"{slugify(kb.name)}-{location}"


def open_store(settings: Settings, progress: bool = False, embedder: Embedder | None = None) -> StoreKnowledge:
    """Load the knowledge base in `settings.kb_dir` and its index (rebuilt only when the data changed)."""
    kb = load_knowledge_base(settings.kb_dir)
    embedder = embedder or make_embedder(settings, kb.faq, progress=progress)
    index, built = load_or_build(kb.passages(), embedder, index_folder(settings, kb),
                                 settings.retrieval.to_config(), progress=progress)
    return StoreKnowledge(kb, index, ProductSearch(kb, index), built)
