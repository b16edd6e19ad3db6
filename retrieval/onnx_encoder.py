"""Run a sentence-transformers model's transformer through ONNX Runtime (about 3x faster per query on a CPU).

The transformer is exported once to ONNX and cached with its sha256 beside it (`model.onnx.sha256`); a cached export
that does not match (or has no checksum) is exported again with a warning. Pooling and normalisation still run
through the model's own sentence-transformers modules, so the vectors equal the PyTorch ones (to about 1e-6).
"""

from __future__ import annotations

import copy
import hashlib
import logging
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.checksums import sha256_file

log = logging.getLogger("shopbot.onnx")


def export_module_onnx(module: Any, sample: dict[str, Any], output_names: list[str], path: Path) -> Path:
    """Export a PyTorch module called as `module(**inputs)` to `path` (atomically), with dynamic batch and length.

    A copy is exported: tracing leaves the traced module unfit for padded batches afterwards.
    """
    import torch

    names = list(sample)
    copied = copy.deepcopy(module).eval()

    class _Positional(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = copied

        def forward(self, *inputs: torch.Tensor) -> Any:
            return self.inner(**dict(zip(names, inputs)))

    axes = {n: {0: "batch", 1: "tokens"} for n in names}
    staging = path.with_name(f"{path.name}.{os.getpid()}.partial")
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")
        torch.onnx.export(_Positional(), tuple(sample[n] for n in names), str(staging), input_names=names,
                          output_names=output_names, dynamic_axes=axes, opset_version=17, dynamo=False)
    os.replace(staging, path)
    return path


def default_threads() -> int:
    """Threads per ONNX Runtime session: half the cores, 1 to 4 (`SHOPBOT_ONNX_THREADS` overrides). The NLU and
    embedding sessions share the machine with the language model's PyTorch threads; on 2 cores, one thread each
    made a batched decode step 20% faster under load and a lone parse under 1 ms slower."""
    return int(os.environ.get("SHOPBOT_ONNX_THREADS") or max(1, min(4, (os.cpu_count() or 2) // 2)))


def onnx_session(path: Path, threads: int | None = None) -> Any:
    """An ONNX Runtime CPU session for `path` (`default_threads()` threads unless given)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads or default_threads()
    options.log_severity_level = 3
    # Idle worker threads sleep instead of spinning: spinning stole the cores the language model decodes on.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def checksum_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def cached_export_ok(path: Path) -> bool:
    """True when `path` exists and matches the checksum written beside it; a damaged or unchecked file (an export
    from an earlier version) is removed, with a warning, so it is exported again."""
    if not path.is_file():
        return False
    recorded = checksum_path(path)
    expected = recorded.read_text().strip() if recorded.is_file() else None
    if expected is not None and sha256_file(path) == expected:
        return True
    log.warning("cached ONNX export %s %s: exporting it again", path,
                "has no checksum" if expected is None else "does not match its checksum (damaged)")
    path.unlink()
    return False


def record_checksum(path: Path) -> Path:
    """Write the sha256 of a finished export beside it (atomically)."""
    staging = checksum_path(path).with_name(f"{checksum_path(path).name}.{os.getpid()}.partial")
    staging.write_text(sha256_file(path) + "\n")
    os.replace(staging, checksum_path(path))
    return path


def export_onnx(model: Any, folder: Path) -> Path:
    """Export `model[0].auto_model` (a Hugging Face encoder) to `folder/model.onnx`, unless a verified export is
    already there."""
    import torch

    path = folder / "model.onnx"
    if cached_export_ok(path):
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
    return record_checksum(export_module_onnx(_TokenEmbeddings(), sample, ["token_embeddings"], path))


class OnnxEncoder:
    """Token embeddings from ONNX Runtime, pooled by the sentence-transformers modules after the transformer."""

    def __init__(self, model: Any, cache_dir: Path, model_key: str, threads: int | None = None):
        self.model = model
        folder = cache_dir / "onnx" / hashlib.sha1(model_key.encode()).hexdigest()[:16]
        self.session = onnx_session(export_onnx(model, folder), threads)
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
