import json
from pathlib import Path

import numpy as np
import pytest

from retrieval.documents import FaqEntry, Passage, faq_passage
from retrieval.embeddings import Embedder
from retrieval.index import KnowledgeIndex, RetrievalConfig, load_or_build
from tests.corruption import flip_bytes

FAQ = [
    FaqEntry("refund-timing", "How long do refunds take?", "Refunds are processed within 3 business days."),
    FaqEntry("shipping-cost", "How much does shipping cost?", "Standard shipping is $5.95 and free over $75."),
    FaqEntry("password-reset", "How do I reset my password?", "Use the Forgot password link; it works for 60 minutes."),
    FaqEntry("gift-wrap", "Do you offer gift wrapping?", "Gift wrap is $4.95 per order."),
]
POLICY = Passage("policy:returns#window", "policy", "Returns: Return window", "Return items within 30 days of delivery.")
PRODUCT = Passage("product:P1", "product", "Storm Shell Jacket", "A waterproof rain jacket with taped seams.")


def passages() -> list[Passage]:
    return [PRODUCT, *[faq_passage(e) for e in FAQ], POLICY]


def test_search_finds_paraphrase_and_filters_kinds(embedder: Embedder) -> None:
    index = KnowledgeIndex.build(passages(), embedder)
    assert [p.kind for p in index.passages] == ["faq"] * 4 + ["policy", "product"]  # grouped by kind
    assert index.search("when do I get my money back", k=1, kinds=("faq",))[0].id == "faq:refund-timing"
    assert index.search("waterproof coat for rain", k=1)[0].id == "product:P1"
    assert {h.kind for h in index.search("jacket", k=6, kinds=("policy", "product"))} <= {"policy", "product"}
    hit = index.search("forgot my password", k=1)[0]
    assert hit.dense_rank == 1 and hit.keyword_rank == 1 and 0.5 < hit.similarity <= 1.0


def test_keyword_only_match_still_found(embedder: Embedder) -> None:
    index = KnowledgeIndex.build(passages(), embedder)
    hits = index.search("$4.95", k=3)
    assert hits[0].id == "faq:gift-wrap" and hits[0].keyword_rank == 1


def test_save_load_round_trip(tmp_path: Path, embedder: Embedder) -> None:
    index = KnowledgeIndex.build(passages(), embedder)
    index.save(tmp_path / "idx")
    loaded = KnowledgeIndex.load(tmp_path / "idx", embedder)
    assert loaded.passages == index.passages
    for query in ("refund", "parcel cost", "wrapping a present", "rain"):
        assert [(h.id, round(h.score, 6)) for h in loaded.search(query)] == [(h.id, round(h.score, 6)) for h in index.search(query)]
    assert sorted(p.name for p in (tmp_path).iterdir()) == ["idx"]  # no staging folder left behind


def test_load_or_build_rebuilds_only_when_data_changes(tmp_path: Path, embedder: Embedder) -> None:
    folder = tmp_path / "idx"
    _, built = load_or_build(passages(), embedder, folder)
    assert built
    first = json.loads((folder / "manifest.json").read_text())
    _, built = load_or_build(list(reversed(passages())), embedder, folder)
    assert not built  # same data in another order: same fingerprint
    changed = passages() + [faq_passage(FaqEntry("new", "Do you ship to Canada?", "Yes, in 7-14 business days."))]
    index, built = load_or_build(changed, embedder, folder)
    assert built and index.search("ship to canada", k=1, kinds=("faq",))[0].id == "faq:new"
    second = json.loads((folder / "manifest.json").read_text())
    assert second["fingerprint"] != first["fingerprint"] and second["model_id"] == embedder.model_id
    assert second["n_passages"] == 7 and second["kinds"] == {"faq": 5, "policy": 1, "product": 1}


def test_corrupt_index_is_rebuilt(tmp_path: Path, embedder: Embedder) -> None:
    folder = tmp_path / "idx"
    load_or_build(passages(), embedder, folder)
    (folder / "dense.faiss").write_bytes(b"garbage")
    index, built = load_or_build(passages(), embedder, folder)
    assert built and index.search("refund", k=1)[0].id == "faq:refund-timing"


def test_approximate_index_above_threshold(embedder: Embedder) -> None:
    config = RetrievalConfig(approximate_above=3)
    index = KnowledgeIndex.build(passages(), embedder, config)
    exact = KnowledgeIndex.build(passages(), embedder)
    assert index.dense.kind == "hnsw" and exact.dense.kind == "flat"
    for query in ("money back", "delivery price", "password"):
        assert index.search(query, k=3, kinds=("faq",))[0].id == exact.search(query, k=3, kinds=("faq",))[0].id


def test_hnsw_round_trip(tmp_path: Path, embedder: Embedder) -> None:
    index = KnowledgeIndex.build(passages(), embedder, RetrievalConfig(approximate_above=3))
    index.save(tmp_path / "idx")
    loaded = KnowledgeIndex.load(tmp_path / "idx", embedder)
    assert loaded.dense.kind == "hnsw"
    assert [h.id for h in loaded.search("rain jacket")] == [h.id for h in index.search("rain jacket")]


def test_duplicate_ids_rejected(embedder: Embedder) -> None:
    with pytest.raises(ValueError, match="duplicate passage id"):
        KnowledgeIndex.build([POLICY, POLICY], embedder)


def test_embeddings_are_normalised(embedder: Embedder) -> None:
    vectors = embedder.encode(["hello", "where is my order"])
    assert vectors.shape == (2, 384) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_onnx_and_torch_backends_agree(embedder: Embedder) -> None:
    torch_embedder = Embedder()
    assert embedder.backend == "onnx" and torch_embedder.backend == "torch"
    texts = ["hi", "Can I return hiking boots I wore once on a muddy trail?", "P1001", "x " * 300]
    assert np.abs(embedder.encode(texts) - torch_embedder.encode(texts)).max() < 1e-4
    batched = embedder.encode(texts * 20)  # length-sorted batches come back in input order
    assert np.allclose(batched[:4], batched[4:8], atol=1e-5) and np.allclose(batched[:4], embedder.encode(texts), atol=1e-5)


def test_faq_alternates_are_extra_question_views(embedder: Embedder) -> None:
    plain = faq_passage(FaqEntry("a", "Can I change my order?", "Until it ships."))
    rich = faq_passage(FaqEntry("a", "Can I change my order?", "Until it ships.", alternates=("switch the size I ordered",)))
    assert [role for role, _ in rich.embedding_views()] == ["question", "question", "content"]
    assert "switch the size" in rich.index_text()
    rich_index = KnowledgeIndex.build([rich, faq_passage(FAQ[0])], embedder)
    plain_index = KnowledgeIndex.build([plain, faq_passage(FAQ[0])], embedder)
    query = "switch the size I ordered"
    assert rich_index.search(query, k=1)[0].similarity > plain_index.search(query, k=1)[0].similarity


def test_flipped_bytes_in_the_faiss_file_are_caught_and_rebuilt(tmp_path: Path, embedder: Embedder, caplog) -> None:
    folder = tmp_path / "idx"
    original, _ = load_or_build(passages(), embedder, folder)
    size = (folder / "dense.faiss").stat().st_size
    flip_bytes(folder / "dense.faiss", 200, start=64)  # past the header: FAISS still loads it, with wrong vectors
    assert (folder / "dense.faiss").stat().st_size == size
    with pytest.raises(ValueError, match="dense.faiss"):
        KnowledgeIndex.load(folder, embedder)
    with caplog.at_level("WARNING", logger="shopbot.index"):
        index, built = load_or_build(passages(), embedder, folder)
    assert built and "damaged" in caplog.text and "dense.faiss" in caplog.text
    assert np.allclose(index.vectors, original.vectors, atol=1e-5)
    _, built = load_or_build(passages(), embedder, folder)
    assert not built  # the rebuilt index carries fresh checksums


def test_every_cached_file_is_checked(tmp_path: Path, embedder: Embedder) -> None:
    folder = tmp_path / "idx"
    load_or_build(passages(), embedder, folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert {"passages.jsonl", "rows.npy", "dense.faiss"} <= set(manifest["checksums"])
    assert any(name.startswith("keyword/") for name in manifest["checksums"])
    flip_bytes(folder / "passages.jsonl", 3)
    _, built = load_or_build(passages(), embedder, folder)
    assert built


def test_an_older_cache_without_checksums_is_rebuilt(tmp_path: Path, embedder: Embedder) -> None:
    folder = tmp_path / "idx"
    load_or_build(passages(), embedder, folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    del manifest["checksums"]
    (folder / "manifest.json").write_text(json.dumps(manifest))
    _, built = load_or_build(passages(), embedder, folder)
    assert built and "checksums" in json.loads((folder / "manifest.json").read_text())
