"""The embedder's ONNX export (sentence-transformers' own `backend="onnx"`) is a cache: exported once into the
cache folder, sealed with the checksums of its files, loaded from there afterwards; a damaged export (same size,
flipped bytes) or one without checksums (an earlier version's) is exported again instead of used."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from retrieval.checksums import mismatches, sha256_file
from retrieval.embeddings import resolve_model
from retrieval.onnx_encoder import CHECKSUMS, ONNX_FILE, OnnxQueryEncoder, export_folder, onnx_sentence_transformer
from tests.corruption import flip_bytes

TEXTS = ["where is my order", "how long do refunds take?"]


def load(cache: Path) -> OnnxQueryEncoder:
    path, model_id = resolve_model(None)
    return OnnxQueryEncoder(onnx_sentence_transformer(path, cache, model_id))


def test_export_is_sealed_and_loaded_from_the_cache_the_second_time(tmp_path: Path) -> None:
    first = load(tmp_path)
    folder = export_folder(tmp_path, *resolve_model(None))
    sealed = json.loads((folder / CHECKSUMS).read_text())
    assert sealed[ONNX_FILE] == sha256_file(folder / ONNX_FILE)
    assert {"tokenizer.json", "modules.json", "1_Pooling/config.json"} <= set(sealed)
    assert [p.name for p in (tmp_path / "onnx").iterdir()] == [folder.name]  # no staging folder left
    written = (folder / ONNX_FILE).stat().st_mtime_ns
    again = load(tmp_path)
    assert (folder / ONNX_FILE).stat().st_mtime_ns == written  # loaded, not exported again
    assert np.array_equal(again.encode(TEXTS), first.encode(TEXTS))


def test_damaged_or_unsealed_onnx_export_is_exported_again(tmp_path: Path, caplog) -> None:
    expected = load(tmp_path).encode(TEXTS)
    folder = export_folder(tmp_path, *resolve_model(None))

    flip_bytes(folder / ONNX_FILE, 50)
    with caplog.at_level("WARNING", logger="shopbot.onnx"):
        again = load(tmp_path)
    assert f"damaged: {ONNX_FILE}" in caplog.text
    assert mismatches(folder, json.loads((folder / CHECKSUMS).read_text())) == []
    assert np.allclose(again.encode(TEXTS), expected, atol=1e-5)

    (folder / CHECKSUMS).unlink()  # an export cached by an earlier version: no checksums to trust
    caplog.clear()
    with caplog.at_level("WARNING", logger="shopbot.onnx"):
        load(tmp_path)
    assert "has no checksum" in caplog.text and (folder / CHECKSUMS).is_file()


def test_a_model_tuned_again_into_the_same_folder_gets_a_new_export(tmp_path: Path) -> None:
    source = tmp_path / "model"
    source.mkdir()
    (source / "model.safetensors").write_bytes(b"first weights")
    before = export_folder(tmp_path, source, "tuned")
    (source / "model.safetensors").write_bytes(b"other weights, longer")
    assert export_folder(tmp_path, source, "tuned") != before
    assert export_folder(tmp_path, source, "tuned") == export_folder(tmp_path, source, "tuned")
