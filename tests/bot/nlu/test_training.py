"""Real training of the joint model on a small store, then parsing with it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from bot.nlu.pipeline import latest_model, load_store_parser, train_store_nlu
from retrieval.loaders import DataError, load_knowledge_base
from tests.corruption import flip_bytes
from tests.support import write

if TYPE_CHECKING:
    from bot.nlu.trainer import TrainConfig

INTENTS = {
    "order_status": ["where is my order", "has my order shipped", "order status please", "is my package on the way",
                     "when does my order arrive", "track order 10482", "what's happening with my order",
                     "status of order 10433", "did you send my stuff yet", "my order hasn't come", "any news on my order",
                     "check my order"],
    "greet": ["hi", "hello", "hey there", "good morning", "hiya", "yo", "hello bot", "hey", "good evening", "hi there",
              "howdy", "greetings"],
    "return_item": ["i want to return my shoes", "how do i send this back", "start a return", "return these boots",
                    "i need a return label", "can i return my jacket", "send back an item", "return request",
                    "the shirt doesn't fit, return it", "i'd like to return something", "return my order",
                    "return the tent please"],
    "oos": ["what's the weather tomorrow", "tell me a joke", "who won the game", "book a flight to paris",
            "what is 17 times 23", "recommend a movie", "how tall is everest", "play some music",
            "what's bitcoin at", "translate hello to french", "set an alarm", "who is the president"],
}
SENTIMENT = {"negative": ["this is terrible", "i'm so angry", "worst service ever", "my order is late again, unacceptable",
                          "the zipper broke, awful", "very disappointed", "you people are useless", "this sucks",
                          "never buying here again", "horrible quality", "i hate this", "so frustrating"],
             "neutral": ["where is my order", "what are your hours", "order 10482", "do you ship to canada",
                         "size 10", "my email is a@example.com", "how much is shipping", "i have a question",
                         "what colours are there", "checking my refund", "return policy?", "ok"],
             "positive": ["thank you so much", "love these shoes", "great service", "awesome, thanks",
                          "perfect, that helped", "you're the best", "amazing quality", "so happy with it",
                          "fantastic, thank you", "really comfortable, love it", "brilliant", "wonderful help"]}


def make_store(root: Path, intents: dict[str, list[str]] = INTENTS) -> Path:
    write(root / "faq.csv", "id,question,answer\nship,Do you ship?,Yes.\n")
    write(root / "catalog.jsonl", '{"id": "P1", "title": "Tern Road Runner 3", "brand": "Kestrel", "price": 120, '
                                  '"attributes": {"colors": ["blue", "grey"]}}\n')
    body = 'version: "3.1"\nnlu:\n' + "".join(
        f"- intent: {name}\n  examples: |\n" + "".join(f"    - {e}\n" for e in examples) for name, examples in intents.items())
    write(root / "nlu.yml", body + "- synonym: grey\n  examples: |\n    - gray\n")
    write(root / "sentiment.yml", "sentiment:\n" + "".join(
        f"- label: {label}\n  examples: |\n" + "".join(f"    - {e}\n" for e in examples) for label, examples in SENTIMENT.items()))
    return root


def small_config() -> TrainConfig:
    """The training settings these tests use (the trainer, and torch with it, load here, not at collection)."""
    from bot.nlu.trainer import TrainConfig

    return TrainConfig(epochs=6, holdout=0.17, encoder_lr=8e-5)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory):
    root = make_store(tmp_path_factory.mktemp("store"))
    cache = tmp_path_factory.mktemp("cache")
    kb = load_knowledge_base(root)
    folder, metadata, was_trained = train_store_nlu(kb, cache, small_config())
    return kb, cache, folder, metadata, was_trained


def test_training_writes_a_versioned_model_with_metadata(trained) -> None:
    kb, cache, folder, metadata, was_trained = trained
    assert was_trained and folder.parent == cache / "nlu" and latest_model(kb, cache) == folder
    assert {p.name for p in folder.iterdir()} == {"encoder", "heads.pt", "metadata.json", "model.onnx"}
    assert metadata["intents"] == ["greet", "oos", "order_status", "return_item"] and metadata["has_oos_class"]
    assert len(metadata["data_fingerprint"]) == 64 and metadata["train_seconds"] > 0
    assert metadata["metrics"]["holdout_intent_examples"] == 8 and 0.25 <= metadata["intent_temperature"] <= 8
    assert json.loads((folder / "metadata.json").read_text()) == metadata


def test_unchanged_data_skips_training(trained) -> None:
    kb, cache, folder, _, _ = trained
    again, _, was_trained = train_store_nlu(kb, cache, small_config())
    assert again == folder and not was_trained


def test_parse_shape_intents_sentiment_and_entities(trained) -> None:
    kb, _, folder, _, _ = trained
    parser = load_store_parser(kb, folder)
    result = parser.parse("hey, where is my order 10482? it's the gray tern road runner 3")
    assert set(result) == {"text", "intent", "intent_ranking", "entities", "sentiment"}
    assert result["intent_ranking"][0]["name"] == "order_status"
    assert abs(sum(r["confidence"] for r in result["intent_ranking"]) - 1) < 0.01
    entities = {(e["entity"], e["value"]) for e in result["entities"]}
    assert {("order_id", "10482"), ("color", "grey"), ("product", "Tern Road Runner 3")} <= entities
    assert parser.parse("this is the worst, totally unacceptable")["sentiment"]["label"] == "negative"
    assert parser.parse("thanks so much, love it")["sentiment"]["label"] == "positive"
    texts = ["hello", "i want to send my jacket back", "tell me a joke about cats"]
    batch = parser.parse_batch(texts)
    assert [b["intent"]["name"] for b in batch] == [parser.parse(t)["intent"]["name"] for t in texts]
    assert [b["intent"]["name"] for b in batch] == ["greet", "return_item", "oos"]


def test_onnx_runtime_and_pytorch_give_the_same_parse(trained) -> None:
    kb, _, folder, _, _ = trained
    onnx, torch_parser = load_store_parser(kb, folder), load_store_parser(kb, folder, onnx=False)
    assert (onnx.backend, torch_parser.backend) == ("onnx", "torch")
    texts = ["hello", "where is my order 10482", "i want to send these boots back, they are awful", "tell me a joke"]
    for a, b in zip(onnx.parse_batch(texts), torch_parser.parse_batch(texts)):
        assert a["intent"]["name"] == b["intent"]["name"] and a["sentiment"]["label"] == b["sentiment"]["label"]
        assert abs(a["intent"]["confidence"] - b["intent"]["confidence"]) < 1e-3
        for label, p in a["sentiment"]["probabilities"].items():
            assert abs(p - b["sentiment"]["probabilities"][label]) < 1e-3


def test_odd_input_never_crashes(trained) -> None:
    kb, _, folder, _, _ = trained
    parser = load_store_parser(kb, folder)
    for text in ["", "   ", "😀😀😀", "x" * 20000, "注文はどこですか", "مرحبا", "\x00\n\t"]:
        result = parser.parse(text)
        assert result["intent"]["name"] in parser.intents and 0 <= result["intent"]["confidence"] <= 1
    assert parser.parse("")["intent"] == {"name": "oos", "confidence": 0.0}
    assert len(parser.parse("y" * 20000)["text"]) == 2000


def test_bad_training_data_is_reported_before_training(tmp_path: Path) -> None:
    intents = {**INTENTS, "goodbye": ["bye", "hello"]}
    kb = load_knowledge_base(make_store(tmp_path / "store", intents))
    with pytest.raises(DataError) as caught:
        train_store_nlu(kb, tmp_path / "cache")
    text = str(caught.value)
    assert "'hello' is listed under 'goodbye' and 'greet'" in text and "intent 'goodbye' has 2 examples" in text
    assert not (tmp_path / "cache" / "nlu").exists()


def test_temperature_and_threshold_helpers() -> None:
    from bot.nlu.trainer import choose_threshold, fit_temperature

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 300)
    logits = rng.normal(size=(300, 3))
    logits[np.arange(300), labels] += 2.0
    assert fit_temperature(logits * 4, labels) > fit_temperature(logits, labels)  # over-confident -> cooled down
    confidence = np.array([0.9, 0.8, 0.3, 0.2])
    predicted = np.array([0, 1, 0, 1])
    gold = np.array([0, 1, 2, 2])  # class 2 is out of scope
    threshold = choose_threshold(confidence, predicted, gold, oos_index=2)
    assert 0.3 < threshold <= 0.8


def _copy(trained, tmp_path: Path) -> Path:
    import shutil

    _, _, folder, _, _ = trained
    return Path(shutil.copytree(folder, tmp_path / folder.name))


def test_a_trained_model_records_the_checksum_of_every_file(trained) -> None:
    _, _, folder, metadata, _ = trained
    from bot.nlu.model import ONNX_FILE

    assert {ONNX_FILE, "heads.pt"} <= set(metadata["checksums"])
    assert any(name.startswith("encoder/") for name in metadata["checksums"])


def test_flipped_bytes_in_model_onnx_are_caught_and_exported_again(trained, tmp_path: Path, caplog) -> None:
    from bot.nlu.model import ONNX_FILE
    from bot.nlu.parser import NluParser

    kb, _, folder, _, _ = trained
    copy = _copy(trained, tmp_path)
    flip_bytes(copy / ONNX_FILE, 50)
    with caplog.at_level("WARNING", logger="shopbot.nlu"):
        parser = load_store_parser(kb, copy)
    assert "model.onnx does not match its checksum" in caplog.text and parser.backend == "onnx"
    original = NluParser.load(folder)
    for text in ("where is my order", "i want to return my shoes", "hello there"):
        assert parser.parse(text)["intent"] == original.parse(text)["intent"]
    from retrieval.checksums import sha256_file

    assert json.loads((copy / "metadata.json").read_text())["checksums"][ONNX_FILE] == sha256_file(copy / ONNX_FILE)


def test_damaged_weights_are_refused_with_what_to_do(trained, tmp_path: Path) -> None:
    from bot.nlu.model import ModelIntegrityError

    kb, _, _, _, _ = trained
    copy = _copy(trained, tmp_path)
    flip_bytes(copy / "heads.pt", 20)
    with pytest.raises(ModelIntegrityError, match=r"heads\.pt.*shopbot train --force"):
        load_store_parser(kb, copy)


def test_a_model_from_before_checksums_gets_them_once(trained, tmp_path: Path, caplog) -> None:
    kb, _, _, _, _ = trained
    copy = _copy(trained, tmp_path)
    metadata = json.loads((copy / "metadata.json").read_text())
    del metadata["checksums"]
    (copy / "metadata.json").write_text(json.dumps(metadata))
    with caplog.at_level("WARNING", logger="shopbot.nlu"):
        load_store_parser(kb, copy)
    assert "no checksums" in caplog.text and json.loads((copy / "metadata.json").read_text())["checksums"]


def test_shopbot_train_trains_a_damaged_model_again(trained, tmp_path: Path) -> None:
    """`shopbot train` (no --force) would otherwise report a damaged model "up to date"."""
    import shutil

    kb, cache, folder, _, _ = trained
    copied_cache = Path(shutil.copytree(cache, tmp_path / "cache"))
    flip_bytes(copied_cache / folder.relative_to(cache) / "heads.pt", 20)
    again, _, was_trained = train_store_nlu(kb, copied_cache, small_config())
    assert was_trained and again == copied_cache / folder.relative_to(cache)
    load_store_parser(kb, again)
