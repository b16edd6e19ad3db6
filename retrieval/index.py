"""The store's search index: dense (FAISS) and keyword (BM25) retrieval fused by reciprocal rank.

>>> kb = load_knowledge_base(Path("knowledge_base/demo"))
>>> index, built = load_or_build(kb.passages(), Embedder(), Path(".shopbot_cache/index/demo"))
>>> [hit.id for hit in index.search("how long do refunds take", k=3, kinds=("faq",))]
['faq:refund-timing', ...]
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from retrieval.atomic import atomic_folder
from retrieval.checksums import folder_checksums, mismatches
from retrieval.documents import PASSAGE_KINDS, VIEW_ROLES, Passage, PassageKind, SearchHit, ViewRole
from retrieval.embeddings import Embedder
from retrieval.fusion import reciprocal_rank_fusion
from retrieval.keyword_index import KeywordIndex, top_rows

if TYPE_CHECKING:  # FAISS loads when an index is built or opened, not with the settings that name this module
    from retrieval.dense_index import DenseIndex

INDEX_FORMAT = 2
MANIFEST = "manifest.json"
log = logging.getLogger("shopbot.index")


class IndexIntegrityError(ValueError):
    """A cached index whose files do not match the checksums in its manifest (or that has none)."""


@dataclass(frozen=True)
class RetrievalConfig:
    """Knobs for building and searching an index (all serialisable; part of the index fingerprint)."""

    approximate_above: int = 50_000   # more embedded rows than this: HNSW instead of an exact flat index
    hnsw_m: int = 32
    hnsw_ef_search: int = 128
    rrf_k: int = 60
    dense_weight: float = 1.0
    keyword_weight: float = 0.1       # BM25 breaks ties and catches exact terms; meaning leads (see README)
    candidates: int = 50              # how deep each retriever's list goes into the fusion
    bm25_k1: float = 1.2
    bm25_b: float = 0.75

    def build_fields(self) -> dict[str, Any]:
        """The fields that change what is built (search-time knobs do not invalidate an index)."""
        return {"approximate_above": self.approximate_above, "hnsw_m": self.hnsw_m,
                "bm25_k1": self.bm25_k1, "bm25_b": self.bm25_b}


def canonical_order(passages: list[Passage]) -> list[Passage]:
    """Passages grouped by kind (faq, policy, product) and sorted by id, so the same data gives the same index."""
    return sorted(passages, key=lambda p: (PASSAGE_KINDS.index(p.kind), p.id))


def fingerprint(passages: list[Passage], model_id: str, config: RetrievalConfig) -> str:
    """Hash of everything an index is built from: passages, embedding views, model and build settings."""
    digest = hashlib.sha256()
    digest.update(json.dumps({"format": INDEX_FORMAT, "model": model_id, "config": config.build_fields()},
                             sort_keys=True).encode())
    for passage in passages:
        digest.update(json.dumps([passage.to_dict(), passage.embedding_views()], sort_keys=True).encode())
    return digest.hexdigest()


class KnowledgeIndex:
    """Search over passages of every kind (faq, policy, product) with one API."""

    def __init__(self, passages: list[Passage], rows: np.ndarray, dense: DenseIndex, keyword: KeywordIndex,
                 embedder: Embedder, config: RetrievalConfig, manifest: dict[str, Any]):
        self.passages = passages
        self.row_passage = rows[0]          # embedded row -> passage number
        self.row_role = rows[1]             # embedded row -> index into VIEW_ROLES
        self.dense = dense
        self.keyword = keyword
        self.embedder = embedder
        self.config = config
        self.manifest = manifest
        self._by_id = {p.id: i for i, p in enumerate(passages)}
        self._passage_ranges = _ranges([p.kind for p in passages])
        self._row_ranges = _ranges([passages[i].kind for i in self.row_passage])
        self._rows_of = np.split(np.arange(len(self.row_passage)), np.flatnonzero(np.diff(self.row_passage)) + 1)
        self._vectors: np.ndarray | None = None

    @property
    def vectors(self) -> np.ndarray:
        """All embedded rows as one (rows, dimension) array."""
        if self._vectors is None:
            self._vectors = self.dense.reconstruct(np.arange(len(self.dense)))
        return self._vectors

    def passage_vectors(self, numbers: np.ndarray, role: ViewRole = "content") -> np.ndarray:
        """One vector per passage number: its first view of `role`."""
        wanted = VIEW_ROLES.index(role)
        rows = [next(r for r in self._rows_of[n] if self.row_role[r] == wanted) for n in numbers]
        return self.vectors[rows]

    # -- building -----------------------------------------------------------------------------------------
    @classmethod
    def build(cls, passages: list[Passage], embedder: Embedder, config: RetrievalConfig | None = None,
              progress: bool = False) -> KnowledgeIndex:
        """Embed and index the passages (stored in `canonical_order`)."""
        from retrieval.dense_index import DenseIndex

        config = config or RetrievalConfig()
        started = time.perf_counter()
        passages = canonical_order(passages)
        ids = [p.id for p in passages]
        if len(set(ids)) != len(ids):
            duplicate = next(i for i in ids if ids.count(i) > 1)
            raise ValueError(f"duplicate passage id {duplicate!r}")
        views, owners, roles = [], [], []
        for number, passage in enumerate(passages):
            for role, view in passage.embedding_views():
                views.append(view)
                owners.append(number)
                roles.append(VIEW_ROLES.index(role))
        vectors = embedder.encode(views, show_progress=progress)
        dense = DenseIndex.build(vectors, config.approximate_above, config.hnsw_m, ef_search=config.hnsw_ef_search)
        keyword = KeywordIndex.build([p.index_text() for p in passages], config.bm25_k1, config.bm25_b)
        manifest = {
            "format": INDEX_FORMAT, "model_id": embedder.model_id,
            "fingerprint": fingerprint(passages, embedder.model_id, config),
            "n_passages": len(passages), "n_vectors": len(views), "dense_index": dense.kind,
            "kinds": {kind: sum(p.kind == kind for p in passages) for kind in PASSAGE_KINDS},
            "config": asdict(config), "build_seconds": round(time.perf_counter() - started, 2),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        return cls(passages, np.asarray([owners, roles], dtype=np.int64), dense, keyword, embedder, config, manifest)

    def save(self, folder: Path) -> None:
        """Write the index to `folder` atomically (a half-written index is never left behind); the manifest,
        written last, holds the sha256 of every other file."""
        with atomic_folder(Path(folder)) as staging:
            with open(staging / "passages.jsonl", "w", encoding="utf-8") as out:
                for passage in self.passages:
                    out.write(json.dumps(passage.to_dict(), ensure_ascii=False) + "\n")
            np.save(staging / "rows.npy", np.stack([self.row_passage, self.row_role]))
            self.dense.save(staging / "dense.faiss")
            (staging / "keyword").mkdir()
            self.keyword.save(staging / "keyword")
            self.manifest = {**self.manifest, "checksums": folder_checksums(staging, (MANIFEST,))}
            (staging / MANIFEST).write_text(json.dumps(self.manifest, indent=2))

    @classmethod
    def load(cls, folder: Path, embedder: Embedder) -> KnowledgeIndex:
        """Load an index saved by `save`; the embedder must be the model it was built with. `IndexIntegrityError`
        when a file does not match the manifest's checksums, or the manifest has none (an older cache)."""
        from retrieval.dense_index import DenseIndex

        folder = Path(folder)
        manifest = json.loads((folder / MANIFEST).read_text())
        if manifest.get("model_id") != embedder.model_id:
            raise ValueError(f"index in {folder} was built with {manifest.get('model_id')}, not {embedder.model_id}")
        checksums = manifest.get("checksums")
        if not checksums:
            raise IndexIntegrityError(f"index in {folder} has no checksums (built by an earlier version)")
        damaged = mismatches(folder, checksums)
        if damaged:
            raise IndexIntegrityError(f"index in {folder} is damaged: {', '.join(damaged)} "
                                      "do not match the manifest's checksums")
        with open(folder / "passages.jsonl", encoding="utf-8") as lines:
            passages = [Passage.from_dict(json.loads(line)) for line in lines]
        config = RetrievalConfig(**manifest["config"])
        return cls(passages, np.load(folder / "rows.npy"), DenseIndex.load(folder / "dense.faiss"),
                   KeywordIndex.load(folder / "keyword"), embedder, config, manifest)

    # -- searching ----------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.passages)

    def passage(self, passage_id: str) -> Passage | None:
        number = self._by_id.get(passage_id)
        return None if number is None else self.passages[number]

    def kind_range(self, kind: PassageKind) -> tuple[int, int]:
        """Half-open range of passage numbers holding `kind` (passages are grouped by kind)."""
        return self._passage_ranges.get(kind, (0, 0))

    def search(self, query: str, k: int = 5, kinds: tuple[PassageKind, ...] | None = None) -> list[SearchHit]:
        """The k best passages for the query, optionally of the given kinds only, best first."""
        return self.search_with_vector(query, self.embedder.encode_query(query), k, kinds)

    async def search_async(self, query: str, k: int = 5,
                           kinds: tuple[PassageKind, ...] | None = None) -> list[SearchHit]:
        """`search` for the event loop: the query's embedding is awaited (batched with concurrent queries when the
        embedder has a batcher); the index look-ups that follow take about a millisecond."""
        return self.search_with_vector(query, await self.embedder.encode_query_async(query), k, kinds)

    def search_with_vector(self, query: str, vector: np.ndarray, k: int = 5,
                           kinds: tuple[PassageKind, ...] | None = None) -> list[SearchHit]:
        """Like `search`, with the query already embedded (lets callers batch the embedding)."""
        kinds = tuple(kinds or PASSAGE_KINDS)
        depth = max(self.config.candidates, k)
        dense_ranking, similarity = self._dense_ranking(vector, kinds, depth)
        keyword_ranking = self._keyword_ranking(query, kinds, depth)
        fused = reciprocal_rank_fusion([dense_ranking, keyword_ranking], k=self.config.rrf_k,
                                       weights=[self.config.dense_weight, self.config.keyword_weight])
        dense_rank = {p: r for r, p in enumerate(dense_ranking, start=1)}
        keyword_rank = {p: r for r, p in enumerate(keyword_ranking, start=1)}
        return [SearchHit(self.passages[p], score, dense_rank.get(p), keyword_rank.get(p), similarity.get(p))
                for p, score in fused[:k]]

    def _dense_ranking(self, vector: np.ndarray, kinds: tuple[PassageKind, ...], depth: int) -> tuple[list[int], dict[int, float]]:
        """Passages by similarity: FAISS finds candidate rows, then each candidate passage scores the mean over
        view roles of its best view in that role (all of its views scored exactly)."""
        views_per_passage = len(self.row_passage) / max(1, len(self.passages))
        candidates: set[int] = set()
        for kind in kinds:
            if kind in self._row_ranges:
                rows, _ = self.dense.search(vector, int(depth * views_per_passage) + 1, self._row_ranges[kind])
                candidates.update(int(self.row_passage[r]) for r in rows)
        if not candidates:
            return [], {}
        numbers = sorted(candidates)
        rows = np.concatenate([self._rows_of[n] for n in numbers])
        sims = self.vectors[rows] @ vector
        best: dict[tuple[int, int], float] = {}
        for row, sim in zip(rows, sims):
            key = (int(self.row_passage[row]), int(self.row_role[row]))
            if sim > best.get(key, -2.0):
                best[key] = float(sim)
        per_passage: dict[int, list[float]] = {}
        for (number, _), sim in best.items():
            per_passage.setdefault(number, []).append(sim)
        similarity = {n: sum(v) / len(v) for n, v in per_passage.items()}
        ranking = sorted(similarity, key=lambda n: -similarity[n])[:depth]
        return ranking, similarity

    def _keyword_ranking(self, query: str, kinds: tuple[PassageKind, ...], depth: int) -> list[int]:
        scores = self.keyword.scores(query)
        if set(kinds) >= set(self._passage_ranges):
            return [int(r) for r in top_rows(scores, depth)]
        rows = np.concatenate([np.arange(*self._passage_ranges[k]) for k in kinds if k in self._passage_ranges] or
                              [np.zeros(0, dtype=np.int64)])
        return [int(r) for r in top_rows(scores, depth, rows)]


def load_or_build(passages: list[Passage], embedder: Embedder, folder: Path, config: RetrievalConfig | None = None,
                  progress: bool = False) -> tuple[KnowledgeIndex, bool]:
    """Load the index in `folder` when its fingerprint matches the data and its files their checksums, else build
    and save it (a damaged or unchecked cache is rebuilt with a warning: it is derived data).

    Returns (index, built) where `built` says whether it was (re)built.
    """
    config = config or RetrievalConfig()
    ordered = canonical_order(passages)
    wanted = fingerprint(ordered, embedder.model_id, config)
    manifest_path = Path(folder) / MANIFEST
    if manifest_path.is_file():
        try:
            manifest = json.loads(manifest_path.read_text())
            if manifest.get("fingerprint") == wanted:
                index = KnowledgeIndex.load(folder, embedder)
                index.config = config
                return index, False
        except IndexIntegrityError as exc:
            log.warning("%s: rebuilding it", exc)
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            log.warning("index in %s cannot be read (%s): rebuilding it", folder, exc)
    index = KnowledgeIndex.build(ordered, embedder, config, progress=progress)
    index.save(folder)
    return index, True


def _ranges(kinds: list[str]) -> dict[str, tuple[int, int]]:
    ranges: dict[str, tuple[int, int]] = {}
    for number, kind in enumerate(kinds):
        start, _ = ranges.get(kind, (number, number))
        ranges[kind] = (start, number + 1)
    return ranges
