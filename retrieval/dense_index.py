"""FAISS inner-product index over normalised vectors: exact for small stores, HNSW above a size threshold."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import faiss
import numpy as np

DenseKind = Literal["flat", "hnsw"]


class DenseIndex:
    """Nearest neighbours by cosine similarity (inner product of L2-normalised vectors).

    Rows are searched either all together or restricted to a half-open row range `[start, end)`.
    """

    def __init__(self, index: faiss.Index, kind: DenseKind):
        self.index = index
        self.kind = kind

    @classmethod
    def build(cls, vectors: np.ndarray, approximate_above: int = 50_000, hnsw_m: int = 32,
              ef_construction: int = 80, ef_search: int = 128) -> DenseIndex:
        """Exact `IndexFlatIP` up to `approximate_above` rows, else `IndexHNSWFlat` with inner product."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        dim = vectors.shape[1]
        if len(vectors) > approximate_above:
            index = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = ef_construction
            index.hnsw.efSearch = ef_search
            kind: DenseKind = "hnsw"
        else:
            index = faiss.IndexFlatIP(dim)
            kind = "flat"
        index.add(vectors)
        return cls(index, kind)

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def search(self, vector: np.ndarray, k: int, row_range: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Return (rows, scores) of the k best rows, best first; rows outside `row_range` are skipped."""
        query = np.ascontiguousarray(vector.reshape(1, -1), dtype=np.float32)
        params = None
        if row_range is not None:
            start, end = row_range
            k = min(k, end - start)
            if k <= 0:
                return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
            selector = faiss.IDSelectorRange(start, end)
            params = (faiss.SearchParametersHNSW(sel=selector, efSearch=max(self.index.hnsw.efSearch, k))
                      if self.kind == "hnsw" else faiss.SearchParameters(sel=selector))
        k = min(k, len(self))
        scores, rows = self.index.search(query, k, params=params)
        keep = rows[0] >= 0
        return rows[0][keep], scores[0][keep]

    def reconstruct(self, rows: np.ndarray) -> np.ndarray:
        """The stored vectors of the given rows."""
        if not len(rows):
            return np.zeros((0, self.index.d), np.float32)
        return np.ascontiguousarray(self.index.reconstruct_batch(np.asarray(rows, dtype=np.int64)), dtype=np.float32)

    def save(self, path: Path) -> None:
        faiss.write_index(self.index, str(path))

    @classmethod
    def load(cls, path: Path) -> DenseIndex:
        index = faiss.read_index(str(path))
        return cls(index, "hnsw" if isinstance(index, faiss.IndexHNSW) else "flat")
