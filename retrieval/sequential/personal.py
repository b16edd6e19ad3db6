"""A store's personal recommender: what a shopper is likely to want next, from what they looked at, put in their cart
and bought.

The sequential model (`retrieval.sequential.model`) is trained on the store's history of shoppers' interactions,
its item table started from the catalog's text embeddings (so items nobody has touched yet are not cold), and cached
under `cache_dir/recommender/` by a fingerprint of the catalog, the history and the settings, like the NLU. Without
history, or for a shopper who has done nothing yet, item-item co-occurrence and popularity answer. Every suggestion
carries the one real interaction it follows from, so a reason can name it ("you looked at the Tern Road Runner 3").

>>> folder, manifest, trained = train_personal(sequences, product_ids, cache_dir)
>>> ranker = load_personal(folder, sequences)
>>> ranker.recommend([Interaction("P1001", "product_viewed")], k=4)
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.atomic import atomic_folder
from retrieval.checksums import folder_checksums, mismatches
from retrieval.sequential.baselines import CoOccurrence, Popularity
from retrieval.sequential.model import (
    SequentialConfig,
    SequentialRecommender,
    train_sequential,
)

MANIFEST = "personal.json"
# a store: under a minute on 2 cores (its own figures were measured with these, not Amazon Games' defaults)
DEMO_CONFIG = SequentialConfig(epochs=15, time_budget_s=50.0, dropout=0.3, item_bias="none", decay="none",
                               learning_rate=1e-3)


@dataclass(frozen=True)
class Interaction:
    """One thing a shopper did with a product: `kind` is one of the history's `EVENTS`."""

    product_id: str
    kind: str = "product_viewed"


@dataclass(frozen=True)
class Suggestion:
    """A product to suggest, its score, and the shopper's interaction it follows from (None: popular in general)."""

    product_id: str
    score: float
    because: Interaction | None


class PersonalRanker:
    """Scores a store's products for one shopper's interactions (most recent last)."""

    def __init__(self, product_ids: Sequence[str], model: SequentialRecommender | None,
                 sequences: Mapping[str, Sequence[str]], metadata: dict[str, Any] | None = None):
        self.product_ids = list(product_ids)
        self.number = {pid: i + 1 for i, pid in enumerate(self.product_ids)}  # items are numbered from 1
        self.model = model
        numbered = {shopper: [self.number[p] for p in items if p in self.number] for shopper, items in sequences.items()}
        self.popularity = Popularity(numbered)
        self.cooccurrence = CoOccurrence(numbered)
        self.metadata = metadata or {}
        self._item_table: np.ndarray | None = None

    @property
    def name(self) -> str:
        return "sequential" if self.model is not None else "co-occurrence"

    def _items(self, history: Sequence[Interaction | str]) -> list[int]:
        items = [self.number.get(h if isinstance(h, str) else h.product_id) for h in history]
        kept: list[int] = []
        for item in items:
            if item is not None and (not kept or kept[-1] != item):  # a product looked at twice in a row is one step
                kept.append(item)
        return kept

    def scores(self, history: Sequence[Interaction | str], candidates: Sequence[str]) -> np.ndarray:
        """A score per candidate (higher is better; unknown products score lowest)."""
        items = self._items(history)
        numbers = [self.number.get(c, 0) for c in candidates]
        if not items:
            scores = self.popularity.scores(items, numbers)
        elif self.model is not None:
            scores = self.model.scores(items, numbers)
        else:
            scores = self.cooccurrence.scores(items, numbers) + 1e-6 * self.popularity.scores(items, numbers)
        return np.where(np.asarray(numbers) > 0, scores, -np.inf)

    def recommend(self, history: Sequence[Interaction], k: int = 4, exclude: Sequence[str] = (),
                  candidates: Sequence[str] | None = None) -> list[Suggestion]:
        """The `k` best products for this shopper among `candidates` (default: the whole catalog), leaving out
        `exclude`, each with the interaction it follows from."""
        pool = [p for p in (candidates if candidates is not None else self.product_ids) if p not in set(exclude)]
        if not pool:
            return []
        scores = self.scores(history, pool)
        best = np.argsort(-scores, kind="stable")[:k]
        return [Suggestion(pool[i], float(scores[i]), self.because(pool[i], history)) for i in best
                if np.isfinite(scores[i])]

    def because(self, product_id: str, history: Sequence[Interaction]) -> Interaction | None:
        """The shopper's interaction most like `product_id` (by the model's item vectors, or co-occurrence), the
        latest among equals; None when there is none to name."""
        target = self.number.get(product_id)
        known = [h for h in history if h.product_id in self.number and h.product_id != product_id]
        if target is None or not known:
            return None
        table = self.item_table()
        if table is not None:
            likeness = [float(table[self.number[h.product_id]] @ table[target]) for h in known]
        else:
            likeness = [float(self.cooccurrence.scores([self.number[h.product_id]], [target])[0]) for h in known]
        best = max(range(len(known)), key=lambda i: (likeness[i], i))
        return known[best]

    def item_table(self) -> np.ndarray | None:
        """The model's item vectors, unit length (row i is item i; row 0 pads)."""
        if self.model is None:
            return None
        if self._item_table is None:
            table = self.model.encoder.items.weight.detach().numpy().astype(np.float64)
            self._item_table = table / np.maximum(np.linalg.norm(table, axis=1, keepdims=True), 1e-12)
        return self._item_table


def fingerprint(product_ids: Sequence[str], sequences: Mapping[str, Sequence[str]], config: SequentialConfig,
                text_model: str) -> str:
    """Changes when the catalog, the history, the settings or the text model do."""
    digest = hashlib.sha256(json.dumps({"config": asdict(config), "text_model": text_model,
                                        "products": list(product_ids)}, sort_keys=True).encode())
    for shopper in sorted(sequences):
        digest.update(json.dumps([shopper, list(sequences[shopper])]).encode())
    return digest.hexdigest()


def model_folder(cache_dir: Path, store: str, data_fingerprint: str) -> Path:
    return Path(cache_dir) / "recommender" / f"{store}-{data_fingerprint[:12]}"


def train_personal(sequences: Mapping[str, Sequence[str]], product_ids: Sequence[str], cache_dir: Path,
                   store: str = "store", config: SequentialConfig = DEMO_CONFIG,
                   text_vectors: Callable[[], np.ndarray] | None = None, text_model: str = "none",
                   force: bool = False, progress: bool = False) -> tuple[Path, dict[str, Any], bool]:
    """Train the store's sequential model unless an intact one for exactly this data exists. `text_vectors()` gives
    one text embedding per product (in `product_ids` order, from `text_model`) for the item table's start.
    Returns (folder, manifest, trained)."""
    wanted = fingerprint(product_ids, sequences, config, text_model if text_vectors else "none")
    folder = model_folder(cache_dir, store, wanted)
    if not force and intact(folder, wanted):
        return folder, json.loads((folder / MANIFEST).read_text()), False
    vectors = text_vectors() if text_vectors is not None else None
    number = {pid: i + 1 for i, pid in enumerate(product_ids)}
    numbered = {s: [number[p] for p in items if p in number] for s, items in sequences.items()}
    started = time.perf_counter()
    model = train_sequential(numbered, len(product_ids), config, progress=progress, item_vectors=vectors)
    with atomic_folder(folder) as staging:
        model.save(staging)
        (staging / "products.json").write_text(json.dumps(list(product_ids)))
        manifest = {"fingerprint": wanted, "store": store, "text_model": text_model if text_vectors else "none",
                    "train_seconds": round(time.perf_counter() - started, 1), "shoppers": len(sequences),
                    "products": len(product_ids), "epochs_run": model.metadata["epochs_run"],
                    "losses": model.metadata.get("losses", [])[-3:],
                    "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "files": folder_checksums(staging)}
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=1))
    return folder, manifest, True


def intact(folder: Path, wanted: str) -> bool:
    """Does `folder` hold a model trained for the fingerprint `wanted`, its files as they were written?"""
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    return manifest.get("fingerprint") == wanted and not mismatches(folder, manifest.get("files", {}))


class RecommenderIntegrityError(RuntimeError):
    """A cached recommender whose files do not match their checksums."""


def load_personal(folder: Path, sequences: Mapping[str, Sequence[str]]) -> PersonalRanker:
    """The ranker `train_personal` saved in `folder`, with the shoppers' `sequences` it was trained on (for the
    popularity and co-occurrence it falls back to); a damaged one is refused."""
    manifest = json.loads((folder / MANIFEST).read_text())
    damaged = mismatches(folder, manifest.get("files", {}))
    if damaged:
        raise RecommenderIntegrityError(f"{folder}: {', '.join(damaged)} changed since training; run "
                                        "`shopbot train recommender --force`")
    product_ids = json.loads((folder / "products.json").read_text())
    return PersonalRanker(product_ids, SequentialRecommender.load(folder), sequences, manifest)
