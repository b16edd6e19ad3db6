"""Adapt the embedder to a store's FAQ: contrastive fine-tuning on its questions and alternate phrasings.

Each (question or alternate, FAQ entry) pair is a positive; the other entries in the batch are negatives
(in-batch softmax, as sentence-transformers' MultipleNegativesRankingLoss). The tuned model is saved as a
sentence-transformers folder, keyed by a fingerprint of the FAQ, the base model and the settings, so it is
trained once per FAQ version.

>>> folder = tuned_model_folder(faq, base, Path(".shopbot_cache/models"), FinetuneConfig())
>>> folder = folder if (folder / "shopbot_finetune.json").is_file() else finetune_on_faq(faq, base, folder)
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from retrieval.atomic import atomic_folder
from retrieval.documents import FaqEntry, faq_passage
from retrieval.embeddings import Embedder
from retrieval.training_progress import TrainingProgress

METADATA = "shopbot_finetune.json"


@dataclass(frozen=True)
class FinetuneConfig:
    """Training settings; part of the tuned model's fingerprint."""

    epochs: int = 2
    learning_rate: float = 2e-5
    batch_size: int = 32
    scale: float = 20.0        # inverse temperature of the in-batch softmax
    seed: int = 13
    min_alternates: int = 50   # below this many alternate phrasings, tuning does not pay (measured: no gain)


def training_pairs(faq: list[FaqEntry]) -> list[tuple[str, str]]:
    """(shopper phrasing, passage text) pairs: every question and alternate against its entry's content view."""
    pairs = []
    for entry in faq:
        content = dict(faq_passage(entry).embedding_views()).get("content", entry.question)
        pairs += [(phrasing, content) for phrasing in (entry.question, *entry.alternates)]
    return pairs


def worth_tuning(faq: list[FaqEntry], config: FinetuneConfig) -> bool:
    return sum(len(e.alternates) for e in faq) >= config.min_alternates


def tuned_model_folder(faq: list[FaqEntry], base: Embedder, root: Path, config: FinetuneConfig) -> Path:
    """Where the model tuned on this FAQ, from this base, with these settings, lives (or will)."""
    digest = hashlib.sha256(json.dumps({"base": base.model_id, "config": asdict(config),
                                        "pairs": training_pairs(faq)}).encode()).hexdigest()
    return Path(root) / f"faq-tuned-{digest[:16]}"


def finetune_on_faq(faq: list[FaqEntry], base: Embedder, folder: Path, config: FinetuneConfig | None = None,
                    progress: bool = False) -> Path:
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
            similarity = torch.nn.functional.normalize(queries, dim=-1) @ torch.nn.functional.normalize(targets, dim=-1).T
            loss = torch.nn.functional.cross_entropy(similarity * config.scale, labels)
            tracker.step(loss, optimizer)
    tracker.close()
    model.eval()
    with atomic_folder(Path(folder)) as staging:
        model.save(str(staging))
        (staging / METADATA).write_text(json.dumps({
            "base_model": base.model_id, "config": asdict(config), "n_pairs": len(pairs), "n_faq": len(faq),
            "steps": steps, "final_loss": tracker.mean_loss(last=5),
            "seconds": round(time.perf_counter() - started, 1),
        }, indent=2))
    return folder
