"""A causal self-attention recommender over a shopper's item sequence (SASRec's architecture), trained with a
cross-entropy over the true next item and many sampled negatives at every position (which the literature shows
beats SASRec's original one-negative binary loss).

Items are numbered from 1 (0 pads). The output embedding is the input one (shared), so scoring a shopper is one
encoder pass over their last `max_length` items and a dot product with the candidates.

>>> model = train_sequential(sequences, n_items, SequentialConfig(epochs=20))
>>> model.scores(history, candidates)
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

WEIGHTS, SPEC = "sequential.pt", "sequential.json"


@dataclass(frozen=True)
class SequentialConfig:
    """Model size and training; the defaults were chosen on Amazon Games' dev split (full dev, 2 cores:
    dropout 0.3 -> 0.5 -> 0.6 gave HR@10 0.688 -> 0.718 -> 0.728 with the popularity bias at learning rate 1e-3;
    2e-3 gave 0.744 in the same 60 epochs, 6.5 to 8 s each, the learning rate decayed to zero on a cosine)."""

    dim: int = 64
    layers: int = 2
    heads: int = 2
    max_length: int = 50
    dropout: float = 0.6
    ffn_dim: int = 0        # the feed-forward width; 0: twice dim
    loss: str = "ce"        # "ce": softmax over the true item and the negatives; "bce": binary, per negative
    negatives: int = 1024   # sampled items each position's true next item is scored against (shared per batch);
                            # 0 scores it against every item (full softmax)
    batch_size: int = 128
    epochs: int = 60
    learning_rate: float = 2e-3
    weight_decay: float = 0.0
    item_l2: float = 0.0
    padding_mask: bool = True
    item_bias: str = "popularity"   # "none" | "zero" | "popularity": a learnt per-item score offset, started at log(count+1)
    input_replace: float = 0.0  # chance an input item is swapped for a random one while training
    future_targets: int = 1     # each position also learns the items up to this many steps after it
    future_weight: float = 1.0  # the weight of the item j steps later: future_weight ** (j - 1)
    warmup_epochs: float = 0.0
    decay: str = "cosine"   # "none" | "linear" | "cosine" to zero over the epochs
    time_budget_s: float | None = None  # stop training when it is spent (the learning rate decays to reach zero
                                        # by then, or by the last epoch, whichever comes first)
    seed: int = 7


def text_initialisation(vectors: np.ndarray, dim: int) -> np.ndarray:
    """Item vectors of `dim` numbers from their text embeddings (the top principal directions), scaled like the
    encoder's random initialisation: items whose descriptions are alike start alike, so a new item is not cold."""
    centred = np.asarray(vectors, dtype=np.float64) - np.mean(vectors, axis=0)
    _, _, directions = np.linalg.svd(centred, full_matrices=False)
    projected = centred @ directions[:dim].T
    if projected.shape[1] < dim:
        projected = np.pad(projected, ((0, 0), (0, dim - projected.shape[1])))
    return (projected / (projected.std() + 1e-12) * dim ** -0.5).astype(np.float32)


def _encoder(n_items: int, config: SequentialConfig) -> Any:
    import torch
    from torch import nn

    class Encoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.items = nn.Embedding(n_items + 1, config.dim, padding_idx=0)
            if config.item_bias != "none":
                self.bias = nn.Embedding(n_items + 1, 1)
                nn.init.zeros_(self.bias.weight)
            self.positions = nn.Embedding(config.max_length, config.dim)
            for table in (self.items, self.positions):
                nn.init.normal_(table.weight, std=config.dim ** -0.5)
            with torch.no_grad():
                self.items.weight[0].zero_()
            layer = nn.TransformerEncoderLayer(config.dim, config.heads,
                                               dim_feedforward=config.ffn_dim or config.dim * 2,
                                               dropout=config.dropout, batch_first=True, norm_first=True)
            self.blocks = nn.TransformerEncoder(layer, config.layers, enable_nested_tensor=False)
            self.norm = nn.LayerNorm(config.dim)
            self.drop = nn.Dropout(config.dropout)
            mask = torch.triu(torch.full((config.max_length, config.max_length), float("-inf")), diagonal=1)
            self.register_buffer("causal", mask, persistent=False)

        def forward(self, sequence: Any) -> Any:
            """Hidden states (batch, length, dim) of left-padded item sequences; the last column is always the
            most recent item, so a batch may be cut to its longest sequence."""
            length = sequence.shape[1]
            positions = torch.arange(config.max_length - length, config.max_length, device=sequence.device)
            hidden = self.drop(self.items(sequence) * math.sqrt(config.dim) + self.positions(positions))
            real = sequence > 0
            hidden = hidden * real.unsqueeze(-1)
            if config.padding_mask and not bool(real.all()):
                # a position sees the real items up to it (and itself, so a padded one sees something)
                allowed = (self.causal[:length, :length] == 0) & (real.unsqueeze(1) | torch.eye(
                    length, dtype=torch.bool, device=sequence.device))
                mask = torch.zeros(allowed.shape, device=sequence.device).masked_fill(~allowed, float("-inf"))
                mask = mask.repeat_interleave(config.heads, dim=0)
                for block in self.blocks.layers:
                    hidden = block(hidden, src_mask=mask)
            else:
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

        kept = [[i for i in history if 0 < i <= self.n_items][-self.config.max_length:] for history in histories]
        rows = np.zeros((len(histories), max(1, max(map(len, kept), default=1))), dtype=np.int64)
        for row, items in enumerate(kept):
            if items:
                rows[row, -len(items):] = items
        return torch.from_numpy(rows)

    def save(self, folder: Path) -> None:
        """Write the weights (`sequential.pt`) and what is needed to rebuild the encoder (`sequential.json`)."""
        import torch

        folder.mkdir(parents=True, exist_ok=True)
        torch.save(self.encoder.state_dict(), folder / WEIGHTS)
        (folder / SPEC).write_text(json.dumps({"n_items": self.n_items, "config": asdict(self.config),
                                               "metadata": self.metadata}, indent=1))

    @classmethod
    def load(cls, folder: Path) -> SequentialRecommender:
        """The recommender `save` wrote to `folder`."""
        import torch

        spec = json.loads((folder / SPEC).read_text())
        config = SequentialConfig(**spec["config"])
        encoder = _encoder(spec["n_items"], config)
        encoder.load_state_dict(torch.load(folder / WEIGHTS, weights_only=True))
        return cls(encoder, spec["n_items"], config, spec["metadata"])

    def scores(self, history: Sequence[int], candidates: Sequence[int]) -> np.ndarray:
        import torch

        with torch.inference_mode():
            last = self.encoder(self._padded([history]))[0, -1]
            known = torch.tensor([c if 0 < c <= self.n_items else 0 for c in candidates])
            return (_logits(self.encoder, last, known)).numpy().astype(np.float64)


def _logits(encoder: Any, hidden: Any, items: Any) -> Any:
    """Scores of `items` (k,) for each hidden state (..., d): (..., k); with `items` (n, k) and hidden (n, d): (n, k)."""
    if items.dim() == 2:
        out = (hidden.unsqueeze(1) * encoder.items(items)).sum(-1)
    else:
        out = hidden @ encoder.items(items).T
    if hasattr(encoder, "bias"):
        out = out + encoder.bias(items).squeeze(-1)
    return out


def _loss(encoder: Any, hidden: Any, target: Any, n_items: int, config: SequentialConfig) -> Any:
    """Each position's loss over its true later items `target` (n, j; 0 where none): cross-entropy of each against
    every item or against `config.negatives` sampled ones (shared by the batch), or binary cross-entropy."""
    import torch

    weights = config.future_weight ** torch.arange(target.shape[1], dtype=torch.float32)
    weights = (target > 0) * weights
    positive = _logits(encoder, hidden, target)                           # (n, j)
    if config.loss == "bce":
        sampled = torch.randint(1, n_items + 1, (len(target), max(1, config.negatives)))
        negative = _logits(encoder, hidden, sampled)
        fn = torch.nn.functional.logsigmoid
        per = -(fn(positive) * weights).sum(-1) / weights.sum(-1) - fn(-negative).sum(-1)
        return per.mean()
    if config.negatives <= 0 or config.negatives >= n_items:
        sampled = torch.arange(1, n_items + 1)
    else:
        sampled = torch.randint(1, n_items + 1, (config.negatives,))
    negative = _logits(encoder, hidden, sampled)                          # (n, k)
    clash = (sampled.view(1, 1, -1) == target.unsqueeze(-1)).any(1)       # a sampled item that is a true one
    rest = torch.logsumexp(negative.masked_fill(clash, float("-inf")), dim=-1, keepdim=True)
    per = torch.logaddexp(positive, rest) - positive                      # (n, j)
    return ((per * weights).sum(-1) / weights.sum(-1)).mean()


def train_sequential(sequences: Mapping[Any, Sequence[int]], n_items: int,
                     config: SequentialConfig = SequentialConfig(), progress: bool = False,
                     item_vectors: np.ndarray | None = None,
                     after_epoch: Callable[[int, SequentialRecommender], None] | None = None) -> SequentialRecommender:
    """Train on every shopper's sequence: at each position, predict the next item among sampled negatives.

    `item_vectors` (one row per item 1..n_items, e.g. the catalog's text embeddings) initialise the item table;
    `after_epoch(epoch, model)` is called after each epoch (to follow a dev metric)."""
    import torch

    from retrieval.progress import progress_bar

    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    encoder = _encoder(n_items, config)
    if item_vectors is not None:
        if len(item_vectors) != n_items:
            raise ValueError(f"item_vectors has {len(item_vectors)} rows for {n_items} items")
        with torch.no_grad():
            encoder.items.weight[1:] = torch.from_numpy(text_initialisation(item_vectors, config.dim))
    if config.item_bias == "popularity":
        counts = np.bincount([i for items in sequences.values() for i in items if 0 < i <= n_items],
                             minlength=n_items + 1).astype(np.float32)
        with torch.no_grad():
            encoder.bias.weight[:, 0] = torch.from_numpy(np.log1p(counts))
    optimizer = torch.optim.AdamW(encoder.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    length = config.max_length
    ahead = max(1, config.future_targets)
    inputs, targets = [], []
    for items in sequences.values():
        items = [i for i in items if 0 < i <= n_items]
        if len(items) < 2:
            continue
        later = items[-(length + ahead):]
        items = items[-(length + 1):]
        row_in, row_out = np.zeros(length, dtype=np.int64), np.zeros((length, ahead), dtype=np.int64)
        row_in[-(len(items) - 1):] = items[:-1]
        offset = len(later) - len(items)    # where row_in's first item sits in `later`
        for column in range(length - len(items) + 1, length):
            position = offset + column - (length - len(items) + 1)
            following = later[position + 1: position + 1 + ahead]
            row_out[column, :len(following)] = following
        inputs.append(row_in)
        targets.append(row_out)
    inputs_t, targets_t = torch.from_numpy(np.stack(inputs)), torch.from_numpy(np.stack(targets))
    lengths = (inputs_t > 0).sum(1).numpy()
    order_rng = np.random.default_rng(config.seed)
    started = time.perf_counter()
    paused = 0.0  # time spent in after_epoch, not counted against the budget
    losses: list[float] = []
    steps = -(-len(lengths) // config.batch_size)
    total_steps = steps * config.epochs
    warmup = config.warmup_epochs * steps

    def elapsed() -> float:
        return time.perf_counter() - started - paused

    def rate(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        left = (step - warmup) / max(1.0, total_steps - warmup)
        if config.time_budget_s:
            left = max(left, elapsed() / config.time_budget_s)
        if config.decay == "linear":
            return max(0.0, 1.0 - left)
        if config.decay == "cosine":
            return 0.5 * (1 + math.cos(math.pi * min(1.0, left)))
        return 1.0

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, rate)
    epochs_run, out_of_time = 0, False
    for epoch in range(config.epochs):
        encoder.train()
        # batches of like length waste little on padding; ties broken afresh each epoch so batches differ
        by_length = np.lexsort((order_rng.random(len(lengths)), lengths))
        batches = [by_length[i:i + config.batch_size] for i in range(0, len(by_length), config.batch_size)]
        rng.shuffle(batches)
        total, done = 0.0, 0
        bar = progress_bar(range(steps), desc=f"Training recommender, epoch {epoch + 1}/{config.epochs}",
                           unit="step", show=progress, leave=False)
        for step in bar:
            batch = torch.from_numpy(batches[step])
            width = int(lengths[batches[step]].max())
            sequence, target = inputs_t[batch, -width:], targets_t[batch, -width:]
            if config.input_replace > 0:
                swap = (torch.rand(sequence.shape) < config.input_replace) & (sequence > 0)
                sequence = torch.where(swap, torch.randint(1, n_items + 1, sequence.shape), sequence)
            hidden = encoder(sequence)                                    # (b, l, d)
            live = target[..., 0] > 0
            hidden, target = hidden[live], target[live]                   # (n, d), (n, j)
            loss = _loss(encoder, hidden, target, n_items, config)
            if config.item_l2:
                loss = loss + config.item_l2 * encoder.items(torch.unique(sequence)).pow(2).sum(-1).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            total, done = total + float(loss.detach()), done + 1
            if config.time_budget_s is not None and elapsed() >= config.time_budget_s:
                out_of_time = True
                break
        losses.append(total / max(done, 1))
        epochs_run = epoch + (done / steps if out_of_time else 1)
        if after_epoch is not None:
            before = time.perf_counter()
            after_epoch(epoch + 1, SequentialRecommender(encoder, n_items, config, {}))
            paused += time.perf_counter() - before
        if out_of_time:
            break
    metadata = {"config": asdict(config), "epochs_run": round(epochs_run, 2), "out_of_time": out_of_time,
                "losses": [round(x, 4) for x in losses], "train_seconds": round(elapsed(), 1),
                "shoppers": len(inputs)}
    return SequentialRecommender(encoder, n_items, config, metadata)
