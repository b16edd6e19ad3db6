"""Importing the embedder, its ONNX helpers and the fine-tuning loads no model library (torch, transformers,
sentence-transformers, datasets, ONNX Runtime): they are imported when a model is loaded or trained, so
`import bot.engine` and test collection stay fast."""

from __future__ import annotations

import subprocess
import sys

from tests.support import PROJECT_ROOT

HEAVY = ("torch", "transformers", "sentence_transformers", "datasets", "onnxruntime", "optimum")


def test_importing_the_embedder_modules_loads_no_model_library() -> None:
    script = ("import sys; import retrieval.embeddings, retrieval.onnx_encoder, retrieval.finetune, "
              f"retrieval.training_progress; print(','.join(m for m in {HEAVY!r} if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                            cwd=PROJECT_ROOT).stdout.strip()
    assert loaded == ""
