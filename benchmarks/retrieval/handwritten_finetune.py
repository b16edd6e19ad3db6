"""The hand-written contrastive loop the embedder was tuned with before sentence-transformers' trainer, kept
only as the baseline of `bench_finetune.py` (the product no longer runs it).

Plain AdamW (weight decay 0.01) at a constant learning rate over randomly shuffled (phrasing, entry) pairs; an
entry twice in a batch is one target of the in-batch softmax (the loss of MultipleNegativesRankingLoss).
"""

from __future__ import annotations

import random
import time
from dataclasses import asdict
from pathlib import Path

from retrieval.documents import FaqEntry
from retrieval.embeddings import Embedder
from retrieval.finetune import FinetuneConfig, save_tuned, training_pairs
from retrieval.training_progress import TrainingProgress


def handwritten_finetune_on_faq(faq: list[FaqEntry], base: Embedder, folder: Path,
                                config: FinetuneConfig | None = None, progress: bool = False) -> Path:
    """Fine-tune a copy of `base`'s model on the FAQ and save it to `folder` (written atomically)."""
    import torch
    from sentence_transformers import SentenceTransformer

    config = config or FinetuneConfig()
    started = time.perf_counter()
    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    model = SentenceTransformer(str(base.model_path), device=base.device, local_files_only=True)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate)
    pairs = training_pairs(faq)
    steps = config.epochs * -(-len(pairs) // config.batch_size)
    tracker = TrainingProgress(steps, "Tuning embedder on FAQ", progress)
    model.train()
    for _ in range(config.epochs):
        rng.shuffle(pairs)
        for start in range(0, len(pairs), config.batch_size):
            batch = pairs[start:start + config.batch_size]
            positives = list(dict.fromkeys(p for _, p in batch))  # an entry twice in a batch is one target
            labels = torch.tensor([positives.index(p) for _, p in batch])
            queries = model(model.preprocess([q for q, _ in batch]))["sentence_embedding"]
            targets = model(model.preprocess(positives))["sentence_embedding"]
            similarity = (torch.nn.functional.normalize(queries, dim=-1)
                          @ torch.nn.functional.normalize(targets, dim=-1).T)
            loss = torch.nn.functional.cross_entropy(similarity * config.scale, labels)
            tracker.step(loss, optimizer)
    tracker.close()
    return save_tuned(model, Path(folder), {
        "base_model": base.model_id, "config": asdict(config), "n_pairs": len(pairs), "n_faq": len(faq),
        "steps": steps, "final_loss": tracker.mean_loss(last=5), "seconds": round(time.perf_counter() - started, 1)})
