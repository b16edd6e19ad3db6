"""ONNX Runtime for the models here: the embedder's query path through sentence-transformers' own
`backend="onnx"`, and the session and export helpers the NLU parser uses for its joint model.

The embedder's model is exported once with the library (Optimum) into the cache as a sentence-transformers
folder (`onnx/model.onnx` beside the tokenizer and pooling config), sealed with the sha256 of every file in
`shopbot_checksums.json`; an export that does not match (or has no checksums) is exported again with a warning.
Loading it again takes about 0.3 s instead of the 3 s export.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import shutil
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from retrieval.atomic import atomic_folder
from retrieval.checksums import folder_checksums, mismatches

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger("shopbot.onnx")

EXPORT_FORMAT = "sentence-transformers-onnx-1"  # part of the cache key: a new layout never reads an old one
ONNX_FILE = "onnx/model.onnx"
CHECKSUMS = "shopbot_checksums.json"


def export_module_onnx(module: Any, sample: dict[str, Any], output_names: list[str], path: Path) -> Path:
    """Export a PyTorch module called as `module(**inputs)` to `path` (atomically), with dynamic batch and length.

    For models the library cannot export (the NLU's joint intent and sentiment heads). A copy is exported:
    tracing leaves the traced module unfit for padded batches afterwards.
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


def session_options(threads: int | None = None) -> Any:
    """ONNX Runtime options for every session here: `default_threads()` threads unless given, quiet, and idle
    worker threads sleep instead of spinning (spinning stole the cores the language model decodes on)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads or default_threads()
    options.log_severity_level = 3
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def onnx_session(path: Path, threads: int | None = None) -> Any:
    """An ONNX Runtime CPU session for `path` (`default_threads()` threads unless given)."""
    import onnxruntime

    return onnxruntime.InferenceSession(str(path), session_options(threads), providers=["CPUExecutionProvider"])


def export_folder(cache_dir: Path, source: Path, model_id: str) -> Path:
    """Where the ONNX export of the sentence-transformers model in `source` is cached: keyed by the model id, the
    folder and its weight files' size and time, so a model tuned again into the same folder is exported again."""
    source = Path(source)
    weights = [(p.name, p.stat().st_size, p.stat().st_mtime_ns) for pattern in ("*.safetensors", "*.bin")
               for p in sorted(source.glob(pattern))]
    key = json.dumps([EXPORT_FORMAT, model_id, str(source), weights])
    return Path(cache_dir) / "onnx" / hashlib.sha1(key.encode()).hexdigest()[:16]


def cached_export_ok(folder: Path) -> bool:
    """True when `folder` holds an export whose files all match the checksums sealed with it; a damaged or
    unsealed one (an interrupted copy, an earlier version's layout) is removed, with a warning, to be exported
    again."""
    folder = Path(folder)
    if not folder.is_dir():
        return False
    manifest = folder / CHECKSUMS
    expected = json.loads(manifest.read_text()) if manifest.is_file() else None
    damaged = mismatches(folder, expected) if expected else []
    if expected and ONNX_FILE in expected and not damaged:
        return True
    log.warning("cached ONNX export %s %s: exporting it again", folder,
                "has no checksum" if not expected else f"does not match its checksums (damaged: {', '.join(damaged)})")
    shutil.rmtree(folder, ignore_errors=True)
    return False


def export_sentence_transformer_onnx(source: Path, folder: Path) -> Path:
    """Export the sentence-transformers model in `source` with the library's ONNX backend into `folder` (written
    atomically, then sealed with its checksums)."""
    from sentence_transformers import SentenceTransformer

    quiet = logging.getLogger("sentence_transformers.backend")  # "save the export" advice: we do, just below
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = SentenceTransformer(str(source), backend="onnx", device="cpu", local_files_only=True,
                                        model_kwargs={"export": True, "provider": "CPUExecutionProvider"})
    finally:
        quiet.setLevel(level)
    with atomic_folder(Path(folder)) as staging:
        model.save(str(staging))
        (staging / CHECKSUMS).write_text(json.dumps(folder_checksums(staging, leave_out=(CHECKSUMS,)), indent=2))
    return Path(folder)


def onnx_sentence_transformer(source: Path, cache_dir: Path, model_id: str,
                              threads: int | None = None) -> SentenceTransformer:
    """The model in `source` as a `SentenceTransformer(..., backend="onnx")` on the CPU, exported into
    `cache_dir/onnx/` the first time and loaded from there (checksums verified) afterwards."""
    from sentence_transformers import SentenceTransformer

    folder = export_folder(cache_dir, source, model_id)
    if not cached_export_ok(folder):
        export_sentence_transformer_onnx(source, folder)
    return SentenceTransformer(str(folder), backend="onnx", device="cpu", local_files_only=True,
                               model_kwargs={"file_name": ONNX_FILE, "provider": "CPUExecutionProvider",
                                             "session_options": session_options(threads)})


class OnnxQueryEncoder:
    """Normalised sentence embeddings from a `SentenceTransformer(..., backend="onnx")`, with its ONNX Runtime
    session called directly: the library's tokenizer, graph, session and pooling modules, without Optimum's
    `ORTModel.forward` wrapper, which added 0.04 to 0.27 ms (1 to 4%) to every one-sentence query on 2 cores, in
    every round of three runs (`benchmarks/retrieval/bench_onnx_backends.py`); called directly, the library's
    session is as fast as the hand-written export it replaced. A model without that session goes through its
    modules."""

    def __init__(self, model: SentenceTransformer):
        self.model = model
        self.session = getattr(model[0].auto_model, "session", None)
        self.input_names = [i.name for i in self.session.get_inputs()] if self.session is not None else []

    def encode(self, texts: list[str]) -> np.ndarray:
        """Normalised sentence embeddings for one batch of texts."""
        from retrieval.embeddings import forward_normalised

        if self.session is None:
            return forward_normalised(self.model, texts)
        return session_embeddings(self.model, self.session, self.input_names, texts)


def session_embeddings(model: SentenceTransformer, session: Any, input_names: list[str],
                       texts: list[str]) -> np.ndarray:
    """Token embeddings from an ONNX Runtime `session` (the transformer alone), pooled and normalised by the rest
    of `model`'s sentence-transformers modules."""
    import torch

    features = model.preprocess(texts)
    tokens = session.run(None, {name: features[name].numpy() for name in input_names})[0]
    pooled = {"token_embeddings": torch.from_numpy(tokens), "attention_mask": features["attention_mask"]}
    with torch.inference_mode():
        for module in list(model)[1:]:
            pooled = module(pooled)
        embeddings = torch.nn.functional.normalize(pooled["sentence_embedding"], p=2, dim=1)
    return np.ascontiguousarray(embeddings.numpy(), dtype=np.float32)
