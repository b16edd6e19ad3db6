"""Adapt the embedder to a store's FAQ: contrastive fine-tuning on its questions and alternate phrasings.

Each (question or alternate, FAQ entry) pair is a positive; the other entries in the batch are negatives:
sentence-transformers' `SentenceTransformerTrainer` with `MultipleNegativesRankingLoss` (in-batch softmax) and
the no-duplicates batch sampler (no FAQ entry twice in a batch, so no entry is its own negative). The tuned model
is saved as a sentence-transformers folder, keyed by a fingerprint of the FAQ, the base model, the trainer and
the settings, so it is trained once per FAQ version. Importing this module loads no model library.

>>> folder = tuned_model_folder(faq, base, Path(".shopbot_cache/models"), FinetuneConfig())
>>> folder = folder if (folder / "shopbot_finetune.json").is_file() else finetune_on_faq(faq, base, folder)
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import tempfile
import time
from typing import Any
from dataclasses import asdict, dataclass
from pathlib import Path

from retrieval.atomic import atomic_folder
from retrieval.documents import FaqEntry, faq_passage
from retrieval.embeddings import Embedder
from retrieval.training_progress import TrainingProgress, trainer_callback

METADATA = "shopbot_finetune.json"
TRAINER = "sentence-transformers-trainer/mnrl/no-duplicates"  # part of the fingerprint: another trainer, another model


@dataclass(frozen=True)
class FinetuneConfig:
    """Training settings; part of the tuned model's fingerprint."""

    epochs: int = 2
    learning_rate: float = 2e-5
    batch_size: int = 32
    scale: float = 20.0        # inverse temperature of the in-batch softmax
    seed: int = 13
    # the learning rate over the steps (a `transformers` scheduler name); on the dev set "linear" (the trainer's
    # default) lost 4 of 70 hit@1 against "constant" (benchmarks/results/retrieval_finetune.json)
    schedule: str = "constant"
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
    digest = hashlib.sha256(json.dumps({"base": base.model_id, "trainer": TRAINER, "config": asdict(config),
                                        "pairs": training_pairs(faq)}).encode()).hexdigest()
    return Path(root) / f"faq-tuned-{digest[:16]}"


def finetune_on_faq(faq: list[FaqEntry], base: Embedder, folder: Path, config: FinetuneConfig | None = None,
                    progress: bool = False) -> Path:
    """Fine-tune a copy of `base`'s model on the FAQ and save it to `folder` (written atomically), with the
    training record in `folder/METADATA`. `progress` shows a bar with each step's loss."""
    from datasets import Dataset
    from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from sentence_transformers.sentence_transformer.training_args import (BatchSamplers,
                                                                          SentenceTransformerTrainingArguments)
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    config = config or FinetuneConfig()
    started = time.perf_counter()
    model = SentenceTransformer(str(base.model_path), device=base.device, local_files_only=True)
    pairs = training_pairs(faq)
    dataset = Dataset.from_dict({"anchor": [q for q, _ in pairs], "positive": [p for _, p in pairs]})
    tracker = TrainingProgress(config.epochs * -(-len(pairs) // config.batch_size), "Tuning embedder on FAQ",
                               progress)
    with tempfile.TemporaryDirectory(prefix="shopbot-finetune-") as scratch:  # the trainer's output_dir: unused
        arguments = SentenceTransformerTrainingArguments(
            output_dir=scratch, num_train_epochs=config.epochs, per_device_train_batch_size=config.batch_size,
            learning_rate=config.learning_rate, lr_scheduler_type=config.schedule, seed=config.seed,
            batch_sampler=BatchSamplers.NO_DUPLICATES, use_cpu=base.device == "cpu", save_strategy="no",
            report_to="none", logging_steps=1, disable_tqdm=True, dataloader_num_workers=0)
        trainer = SentenceTransformerTrainer(model=model, args=arguments, train_dataset=dataset,
                                             loss=MultipleNegativesRankingLoss(model, scale=config.scale),
                                             callbacks=[trainer_callback(tracker)])
        trainer.remove_callback(PrinterCallback)  # our bar shows the steps and losses instead
        trainer.remove_callback(ProgressCallback)
        trainer.train()
    tracker.close()
    trained = f"{TRAINER} (sentence-transformers {importlib.metadata.version('sentence-transformers')})"
    return save_tuned(model, Path(folder), {
        "base_model": base.model_id, "config": asdict(config), "n_pairs": len(pairs), "n_faq": len(faq),
        "trainer": trained, "steps": trainer.state.global_step, "final_loss": tracker.mean_loss(last=5),
        "seconds": round(time.perf_counter() - started, 1)})


def save_tuned(model: Any, folder: Path, record: dict[str, Any]) -> Path:
    """Save a tuned SentenceTransformer to `folder` (atomically) with its training record in `folder/METADATA`."""
    model.eval()
    with atomic_folder(folder) as staging:
        model.save(str(staging))
        (staging / METADATA).write_text(json.dumps(record, indent=2))
    return folder
