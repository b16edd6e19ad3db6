"""The exported ONNX encoder is a cache: its checksum is written beside it, and a damaged export (same size,
flipped bytes) or one without a checksum (an earlier version's) is exported again instead of used."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from retrieval.checksums import sha256_file
from retrieval.embeddings import Embedder
from retrieval.onnx_encoder import OnnxEncoder, checksum_path
from tests.corruption import flip_bytes

TEXTS = ["where is my order", "how long do refunds take?"]


def test_damaged_or_unchecked_onnx_export_is_exported_again(embedder: Embedder, tmp_path: Path, caplog) -> None:
    model = embedder._model
    first = OnnxEncoder(model, tmp_path, "test-model")
    path = next(tmp_path.glob("onnx/*/model.onnx"))
    assert checksum_path(path).read_text().strip() == sha256_file(path)
    expected = first.encode(TEXTS)

    flip_bytes(path, 50)
    with caplog.at_level("WARNING", logger="shopbot.onnx"):
        again = OnnxEncoder(model, tmp_path, "test-model")
    assert "damaged" in caplog.text
    assert sha256_file(path) == checksum_path(path).read_text().strip()
    assert np.allclose(again.encode(TEXTS), expected, atol=1e-5)

    checksum_path(path).unlink()  # an export cached by an earlier version: no checksum to trust
    caplog.clear()
    with caplog.at_level("WARNING", logger="shopbot.onnx"):
        OnnxEncoder(model, tmp_path, "test-model")
    assert "no checksum" in caplog.text and checksum_path(path).is_file()
