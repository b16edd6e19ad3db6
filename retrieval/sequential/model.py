"""A causal self-attention recommender over a shopper's item sequence (SASRec's architecture), trained with a
cross-entropy over the true next item and many sampled negatives at every position (which the literature shows
beats SASRec's original one-negative binary loss).

Items are numbered from 1 (0 pads). The output embedding is the input one (shared), so scoring a shopper is one
encoder pass over their last `max_length` items and a dot product with the candidates.

>>> model = train_sequential(sequences, n_items, SequentialConfig(epochs=20))
>>> model.scores(history, candidates)
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class SequentialConfig:
    """Model size and training; the defaults were chosen on Amazon Games' dev split."""

    dim: int = 64
    layers: int = 2
    heads: int = 2
    max_length: int = 50
    dropout: float = 0.3
    negatives: int = 1024   # sampled items each position's true next item is scored against (shared per batch)
    batch_size: int = 128
    epochs: int = 20
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    time_budget_s: float | None = None  # stop after the epoch that passes it
    seed: int = 7


def _encoder(n_items: int, config: SequentialConfig) -> Any:
    import torch
    from torch import nn

    class Encoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.items = nn.Embedding(n_items + 1, config.dim, padding_idx=0)
            self.positions = nn.Embedding(config.max_length, config.dim)
            for table in (self.items, self.positions):
                nn.init.normal_(table.weight, std=config.dim ** -0.5)
            with torch.no_grad():
                self.items.weight[0].zero_()
            layer = nn.TransformerEncoderLayer(config.dim, config.heads, dim_feedforward=config.dim * 2,
                                               dropout=config.dropout, batch_first=True, norm_first=True)
            self.blocks = nn.TransformerEncoder(layer, config.layers, enable_nested_tensor=False)
            self.norm = nn.LayerNorm(config.dim)
            self.drop = nn.Dropout(config.dropout)
            mask = torch.triu(torch.full((config.max_length, config.max_length), float("-inf")), diagonal=1)
            self.register_buffer("causal", mask, persistent=False)

        def forward(self, sequence: Any) -> Any:
            """Hidden states (batch, length, dim) of left-padded item sequences."""
            length = sequence.shape[1]
            positions = torch.arange(length, device=sequence.device)
            hidden = self.drop(self.items(sequence) * math.sqrt(config.dim) + self.positions(positions))
            hidden = hidden * (sequence > 0).unsqueeze(-1)
            hidden = self.blocks(hidden, mask=self.causal[:length, :length], is_causal=True)
            return self.norm(hidden)

    return Encoder()


class SequentialRecommender:
    """A trained encoder and how it scores candidates for a history."""

    name = "sequential"

    def __init__(self, encoder: Any, n_items: int, config: SequentialConfig, metadata: dict[str, Any]):
        self.encoder = encoder.eval()
        self.n_items = n_items
        self.config = config
        self.metadata = metadata

    def _padded(self, histories: Sequence[Sequence[int]]) -> Any:
        import torch

        rows = np.zeros((len(histories), self.config.max_length), dtype=np.int64)
        for row, history in enumerate(histories):
            items = [i for i in history if 0 < i <= self.n_items][-self.config.max_length:]
            if items:
                rows[row, -len(items):] = items
        return torch.from_numpy(rows)

    def scores(self, history: Sequence[int], candidates: Sequence[int]) -> np.ndarray:
        import torch

        with torch.inference_mode():
            last = self.encoder(self._padded([history]))[0, -1]
            known = torch.tensor([c if 0 < c <= self.n_items else 0 for c in candidates])
            return (self.encoder.items(known) @ last).numpy().astype(np.float64)


def train_sequential(sequences: Mapping[int, Sequence[int]], n_items: int,
                     config: SequentialConfig = SequentialConfig(), progress: bool = False) -> SequentialRecommender:
    """Train on every shopper's sequence: at each position, predict the next item among sampled negatives."""
    import torch
    from tqdm.auto import tqdm

    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    encoder = _encoder(n_items, config)
    optimizer = torch.optim.Adam(encoder.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    length = config.max_length
    inputs, targets = [], []
    for items in sequences.values():
        items = [i for i in items if 0 < i <= n_items][-(length + 1):]
        if len(items) < 2:
            continue
        row_in, row_out = np.zeros(length, dtype=np.int64), np.zeros(length, dtype=np.int64)
        row_in[-(len(items) - 1):] = items[:-1]
        row_out[-(len(items) - 1):] = items[1:]
        inputs.append(row_in)
        targets.append(row_out)
    inputs_t, targets_t = torch.from_numpy(np.stack(inputs)), torch.from_numpy(np.stack(targets))
    order = list(range(len(inputs)))
    started = time.perf_counter()
    losses: list[float] = []
    steps = math.ceil(len(order) / config.batch_size)
    epochs_run = 0
    for epoch in range(config.epochs):
        encoder.train()
        rng.shuffle(order)
        total = 0.0
        bar = tqdm(range(steps), desc=f"Training recommender, epoch {epoch + 1}/{config.epochs}", unit="step",
                   disable=not progress, leave=False)
        for step in bar:
            batch = torch.tensor(order[step * config.batch_size:(step + 1) * config.batch_size])
            sequence, target = inputs_t[batch], targets_t[batch]
            hidden = encoder(sequence)                                    # (b, l, d)
            live = target > 0
            hidden, target = hidden[live], target[live]                   # (n, d), (n,)
            negatives = torch.randint(1, n_items + 1, (config.negatives,))
            positive = (hidden * encoder.items(target)).sum(-1, keepdim=True)
            negative = hidden @ encoder.items(negatives).T                # (n, k)
            negative = negative.masked_fill(negatives.unsqueeze(0) == target.unsqueeze(1), float("-inf"))
            logits = torch.cat([positive, negative], dim=1)
            loss = torch.nn.functional.cross_entropy(logits, torch.zeros(len(target), dtype=torch.long))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += float(loss.detach())
        losses.append(total / steps)
        epochs_run = epoch + 1
        if config.time_budget_s is not None and time.perf_counter() - started > config.time_budget_s:
            break
    metadata = {"config": asdict(config), "epochs_run": epochs_run, "losses": [round(x, 4) for x in losses],
                "train_seconds": round(time.perf_counter() - started, 1), "shoppers": len(inputs)}
    return SequentialRecommender(encoder, n_items, config, metadata)
