"""Run a sentence-transformers model's transformer through ONNX Runtime (about 3x faster per query on a CPU).

The transformer is exported once to ONNX and cached; pooling and normalisation still run through the
model's own sentence-transformers modules, so the vectors equal the PyTorch ones (to about 1e-6).
"""

from __future__ import annotations

import copy
import hashlib
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.atomic import atomic_folder


def export_onnx(model: Any, folder: Path) -> Path:
    """Export `model[0].auto_model` (a Hugging Face encoder) to `folder/model.onnx`, unless already there."""
    import torch

    path = folder / "model.onnx"
    if path.is_file():
        return path
    # Export a copy: tracing leaves the traced module unfit for padded batches afterwards.
    encoder = copy.deepcopy(model[0].auto_model).eval()
    sample = model.preprocess(["a short example sentence"])
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in sample]
    axes = {n: {0: "batch", 1: "tokens"} for n in names} | {"token_embeddings": {0: "batch", 1: "tokens"}}

    class _Wrapper(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            return self.encoder(**dict(zip(names, inputs))).last_hidden_state

    with atomic_folder(folder) as staging, warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")
        torch.onnx.export(_Wrapper(), tuple(sample[n] for n in names), str(staging / "model.onnx"),
                          input_names=names, output_names=["token_embeddings"], dynamic_axes=axes,
                          opset_version=17, dynamo=False)
    return path


class OnnxEncoder:
    """Token embeddings from ONNX Runtime, pooled by the sentence-transformers modules after the transformer."""

    def __init__(self, model: Any, cache_dir: Path, model_key: str, threads: int | None = None):
        import onnxruntime

        self.model = model
        folder = cache_dir / "onnx" / hashlib.sha1(model_key.encode()).hexdigest()[:16]
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or min(4, os.cpu_count() or 1)
        options.log_severity_level = 3
        self.session = onnxruntime.InferenceSession(str(export_onnx(model, folder)), options,
                                                    providers=["CPUExecutionProvider"])
        self.input_names = [i.name for i in self.session.get_inputs()]

    def encode(self, texts: list[str]) -> np.ndarray:
        """Normalised sentence embeddings for one batch of texts."""
        import torch

        features = self.model.preprocess(texts)
        feed = {name: features[name].numpy() for name in self.input_names}
        tokens = self.session.run(None, feed)[0]
        pooled = {"token_embeddings": torch.from_numpy(tokens), "attention_mask": features["attention_mask"]}
        with torch.inference_mode():
            for module in list(self.model)[1:]:
                pooled = module(pooled)
            embeddings = torch.nn.functional.normalize(pooled["sentence_embedding"], p=2, dim=1)
        return np.ascontiguousarray(embeddings.numpy(), dtype=np.float32)
