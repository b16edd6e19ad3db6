"""The two baselines every sequential recommender is measured against, and its fallback for shoppers with
little history: popularity, and item-item co-occurrence with the shopper's recent items.

Both score any list of candidate items for a shopper's history: `scores(history, candidates)`.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence

import numpy as np


class Popularity:
    """How many interactions each item has: the same ranking for everyone."""

    name = "popularity"

    def __init__(self, sequences: Mapping[int, Sequence[int]]):
        self.counts = Counter(item for items in sequences.values() for item in items)

    def scores(self, history: Sequence[int], candidates: Sequence[int]) -> np.ndarray:
        return np.array([self.counts.get(item, 0) for item in candidates], dtype=np.float64)


class CoOccurrence:
    """Items that followed the shopper's recent items in other shoppers' sequences: for each of the last `recent`
    items (the latest weighted most, halving per step back), the number of times a candidate came within
    `window` positions after it; popularity (scaled below one co-occurrence) breaks ties and covers shoppers with
    no history."""

    name = "co_occurrence"

    def __init__(self, sequences: Mapping[int, Sequence[int]], window: int = 3, recent: int = 3):
        self.window = window
        self.recent = recent
        self.after: dict[int, Counter[int]] = defaultdict(Counter)
        for items in sequences.values():
            for position, item in enumerate(items):
                for later in items[position + 1: position + 1 + window]:
                    if later != item:
                        self.after[item][later] += 1
        self.popularity = Popularity(sequences)
        self._scale = 1.0 / (max(self.popularity.counts.values(), default=0) + 1)

    def scores(self, history: Sequence[int], candidates: Sequence[int]) -> np.ndarray:
        totals = self.popularity.scores(history, candidates) * self._scale
        for steps_back, item in enumerate(reversed(history[-self.recent:])):
            followers = self.after.get(item)
            if followers:
                weight = 0.5 ** steps_back
                totals += weight * np.array([followers.get(c, 0) for c in candidates], dtype=np.float64)
        return totals
