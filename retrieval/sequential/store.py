"""The personal recommender of one store: trained on its `history.csv`, its item table started from the catalog's
text, opened by the bot and the actions, and scored on the store's own held-out next purchases.

>>> folder, manifest, trained = train_store_recommender(kb, cache_dir)
>>> ranker = open_store_recommender(kb, cache_dir)        # None: the store has no history
>>> report = evaluate_store(kb)                            # its held-out split, model against both baselines
"""

from __future__ import annotations

import logging
import random
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.loaders.history import held_out_split, sequences
from retrieval.loaders.policies import slugify
from retrieval.loaders.store import KnowledgeBase
from retrieval.sequential.baselines import CoOccurrence, Popularity
from retrieval.sequential.data import RankingCase
from retrieval.sequential.evaluation import compare
from retrieval.sequential.model import SequentialConfig, train_sequential
from retrieval.sequential.personal import (
    DEMO_CONFIG,
    MANIFEST,
    PersonalRanker,
    RecommenderIntegrityError,
    fingerprint,
    load_personal,
    model_folder,
    train_personal,
)

log = logging.getLogger("shopbot.recommender")
NEGATIVES = 100  # the papers' protocol: the true next purchase ranked among 100 products the shopper never touched


def product_text(product: Any) -> str:
    """What a product's text embedding is made from."""
    return ". ".join(b for b in (product.title, product.brand, product.category, product.subcategory,
                                 " ".join(product.tags), product.description) if b)


def text_model_id() -> str:
    from retrieval.embeddings import resolve_model

    return resolve_model(None)[1]


def product_vectors(kb: KnowledgeBase) -> np.ndarray:
    """One text embedding per catalog product (catalog order), from the packaged MiniLM."""
    from retrieval.embeddings import Embedder

    return Embedder(None).encode([product_text(p) for p in kb.products])


def train_store_recommender(kb: KnowledgeBase, cache_dir: Path, config: SequentialConfig = DEMO_CONFIG,
                            force: bool = False, progress: bool = False) -> tuple[Path, dict[str, Any], bool] | None:
    """Train the store's recommender on its history (cached by fingerprint); None when the store has none."""
    if not kb.history:
        return None
    return train_personal(sequences(kb.history), [p.id for p in kb.products], cache_dir, slugify(kb.name), config,
                          lambda: product_vectors(kb), text_model_id(), force=force, progress=progress)


def open_store_recommender(kb: KnowledgeBase, cache_dir: Path,
                           config: SequentialConfig = DEMO_CONFIG) -> PersonalRanker | None:
    """The store's trained recommender when one matches its data; else co-occurrence over its history (with a
    warning saying how to train); None when the store has no history."""
    if not kb.history:
        return None
    shopped = sequences(kb.history)
    product_ids = [p.id for p in kb.products]
    wanted = fingerprint(product_ids, shopped, config, text_model_id())
    folder = model_folder(cache_dir, slugify(kb.name), wanted)   # named by the fingerprint
    if (folder / MANIFEST).is_file():
        try:
            return load_personal(folder, shopped)   # its files checked against their checksums
        except RecommenderIntegrityError as exc:
            log.warning("%s", exc)
    else:
        log.warning("No trained recommender for this store's history yet: personal picks use co-occurrence until "
                    "`shopbot train recommender` has run")
    return PersonalRanker(product_ids, None, shopped)


def held_out_cases(kb: KnowledgeBase, seed: int = 7) -> tuple[dict[int, list[int]], list[RankingCase], list[str]]:
    """The store's split as ranking cases: (training sequences by shopper number, one case per held-out last
    purchase with `NEGATIVES` products that shopper never touched, the product ids: item i is product_ids[i-1])."""
    train, held = held_out_split(kb.history)
    shopped = sequences(train)
    product_ids = [p.id for p in kb.products]
    number = {pid: i + 1 for i, pid in enumerate(product_ids)}
    touched: dict[str, set[str]] = {}
    for record in kb.history:
        touched.setdefault(record.shopper, set()).add(record.product_id)
    rng = random.Random(seed)
    cases = []
    users = {shopper: i + 1 for i, shopper in enumerate(sorted(shopped))}
    for case in held:
        if case.shopper not in users:
            continue
        pool = [number[p] for p in product_ids if p not in touched[case.shopper]]
        negatives = rng.sample(pool, min(NEGATIVES, len(pool)))
        cases.append(RankingCase(users[case.shopper], number[case.product_id], tuple(negatives)))
    numbered = {users[s]: [number[p] for p in items] for s, items in shopped.items()}
    return numbered, cases, product_ids


def evaluate_store(kb: KnowledgeBase, config: SequentialConfig = DEMO_CONFIG, use_text: bool = True,
                   baselines_only: bool = False, progress: bool = False) -> dict[str, Any]:
    """HR@10, NDCG@10, MRR of popularity, co-occurrence and the sequential model on the store's held-out next
    purchases, each model trained on the rest in this run."""
    numbered, cases, product_ids = held_out_cases(kb)
    builders: list[Any] = [Popularity, CoOccurrence]
    if not baselines_only:
        vectors = product_vectors(kb) if use_text else None
        builders.append(lambda data: train_sequential(data, len(product_ids), config, progress=progress,
                                                      item_vectors=vectors))
    return {"store": kb.name, "shoppers": len(numbered), "n_users": len(cases), "products": len(product_ids),
            "text_init": use_text, "models": compare(builders, numbered, cases)}
