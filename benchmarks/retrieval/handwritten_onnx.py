"""The hand-written ONNX query encoder the embedder used before sentence-transformers' `backend="onnx"`, kept
only as the baseline of `bench_onnx_backends.py` (the product no longer runs it).

The MiniLM transformer is exported with `torch.onnx.export` (opset 17) to `folder/model.onnx`; ONNX Runtime runs
it and the model's own sentence-transformers modules pool and normalise the token embeddings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from retrieval.onnx_encoder import export_module_onnx, onnx_session, session_embeddings


def export_transformer_onnx(model: Any, folder: Path) -> Path:
    """Export `model[0].auto_model` (a Hugging Face encoder) to `folder/model.onnx` (once)."""
    import torch

    path = Path(folder) / "model.onnx"
    if path.is_file():
        return path
    encoder = model[0].auto_model

    class _TokenEmbeddings(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, **inputs: torch.Tensor) -> torch.Tensor:
            return self.encoder(**inputs).last_hidden_state

    features = model.preprocess(["a short example sentence"])
    sample = {n: features[n] for n in ("input_ids", "attention_mask", "token_type_ids") if n in features}
    return export_module_onnx(_TokenEmbeddings(), sample, ["token_embeddings"], path)


class HandwrittenOnnxEncoder:
    """Token embeddings from our own ONNX Runtime session, pooled by the sentence-transformers modules."""

    def __init__(self, model: Any, folder: Path, threads: int | None = None):
        self.model = model
        self.session = onnx_session(export_transformer_onnx(model, folder), threads)
        self.input_names = [i.name for i in self.session.get_inputs()]

    def encode(self, texts: list[str]) -> np.ndarray:
        """Normalised sentence embeddings for one batch of texts."""
        return session_embeddings(self.model, self.session, self.input_names, texts)
