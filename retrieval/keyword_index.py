"""BM25 keyword index (bm25s) over stemmed tokens."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from retrieval.text import keyword_tokens

if TYPE_CHECKING:  # bm25s (and scipy under it) loads when an index is built or opened
    import bm25s


class KeywordIndex:
    """Okapi BM25 scores for every document, computed from a sparse matrix built once."""

    def __init__(self, model: bm25s.BM25, size: int):
        self.model = model
        self.size = size

    @classmethod
    def build(cls, texts: list[str], k1: float = 1.2, b: float = 0.75) -> KeywordIndex:
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)
        model = bm25s.BM25(k1=k1, b=b)
        corpus = [keyword_tokens(t) or ["__empty__"] for t in texts]
        model.index(corpus, show_progress=False)
        return cls(model, len(texts))

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every document for the query (zeros when no query word is indexed)."""
        tokens = [t for t in keyword_tokens(query) if t in self.model.vocab_dict]
        if not tokens:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self.model.get_scores(tokens), dtype=np.float32)

    def save(self, folder: Path) -> None:
        self.model.save(str(folder), show_progress=False)
        (folder / "size.txt").write_text(str(self.size))

    @classmethod
    def load(cls, folder: Path) -> KeywordIndex:
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)
        model = bm25s.BM25.load(str(folder), show_progress=False, verbosity=0)
        return cls(model, int((folder / "size.txt").read_text()))


def top_rows(scores: np.ndarray, k: int, rows: np.ndarray | None = None) -> np.ndarray:
    """Rows of the k highest positive scores, best first, optionally among `rows` only."""
    if rows is not None:
        candidate_scores = scores[rows]
    else:
        rows = np.arange(len(scores))
        candidate_scores = scores
    positive = candidate_scores > 0
    rows, candidate_scores = rows[positive], candidate_scores[positive]
    if len(rows) > k:
        part = np.argpartition(-candidate_scores, k - 1)[:k]
        rows, candidate_scores = rows[part], candidate_scores[part]
    return rows[np.argsort(-candidate_scores, kind="stable")]
