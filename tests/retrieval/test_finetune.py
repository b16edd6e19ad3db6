"""Fine-tuning the embedder on a (small) FAQ with sentence-transformers' trainer: real training, real saved model,
with the progress bar showing."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from retrieval.documents import FaqEntry
from retrieval.embeddings import Embedder
from retrieval.finetune import (METADATA, TRAINER, FinetuneConfig, finetune_on_faq, training_pairs, tuned_model_folder,
                               worth_tuning)

FAQ = [
    FaqEntry("refund-timing", "How long do refunds take?", "Refunds are processed within 3 business days.",
             alternates=("when will i see my money", "refund how long", "money back after return when")),
    FaqEntry("return-window", "How long do I have to return an item?", "You have 30 days from delivery.",
             alternates=("deadline to send stuff back", "is it too late to return my boots", "return period")),
    FaqEntry("gift-wrap", "Do you offer gift wrapping?", "Gift wrap is $4.95 per order.",
             alternates=("can you wrap a present", "wrapping paper option", "make it look like a gift")),
]


def test_pairs_and_threshold() -> None:
    pairs = training_pairs(FAQ)
    assert len(pairs) == 12 and pairs[0] == ("How long do refunds take?",
                                             "How long do refunds take?\nRefunds are processed within 3 business days.")
    assert worth_tuning(FAQ, FinetuneConfig(min_alternates=9)) and not worth_tuning(FAQ, FinetuneConfig(min_alternates=10))


def test_finetune_saves_a_loadable_model_that_fits_the_faq(tmp_path: Path, capsys) -> None:
    # batches of 3: the no-duplicates sampler never puts one entry twice in a batch, and there are 3 entries
    config = FinetuneConfig(epochs=3, batch_size=3, learning_rate=5e-5, min_alternates=1)
    base = Embedder()
    folder = tuned_model_folder(FAQ, base, tmp_path, config)
    assert folder == tuned_model_folder(FAQ, base, tmp_path, config)  # stable key
    assert folder != tuned_model_folder(FAQ[:2], base, tmp_path, config)  # the FAQ is part of the key
    assert folder != tuned_model_folder(FAQ, base, tmp_path, replace(config, schedule="linear"))  # so are settings
    finetune_on_faq(FAQ, base, folder, config, progress=True)
    metadata = json.loads((folder / METADATA).read_text())
    assert metadata["n_pairs"] == 12 and metadata["steps"] == 12 and metadata["base_model"] == base.model_id
    assert metadata["trainer"].startswith(TRAINER) and metadata["final_loss"] > 0
    assert [p.name for p in tmp_path.iterdir()] == [folder.name]  # no staging folder left
    shown = capsys.readouterr().err
    assert "Tuning embedder on FAQ" in shown and "12/12" in shown and "loss=" in shown

    tuned = Embedder(folder)
    pairs = training_pairs(FAQ)
    targets = [p for _, p in pairs[::4]]

    def margin(model: Embedder) -> float:
        """Mean similarity to the right entry minus the best wrong one, over the training phrasings."""
        q, t = model.encode([q for q, _ in pairs]), model.encode(targets)
        sims = q @ t.T
        right = np.repeat(np.arange(3), 4)
        wrong = np.where(np.eye(3, dtype=bool)[right], -np.inf, sims).max(axis=1)
        return float(np.mean(sims[np.arange(12), right] - wrong))

    assert margin(tuned) > margin(base) + 0.05
    assert tuned.model_id != base.model_id and tuned.dimension == base.dimension
