"""The store's NLU model: validate its training data, train when the data changed, load the parser."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.nlu.data import Example, load_nlu_data, load_sentiment_data, validate_examples
from bot.nlu.entities import EntityExtractor
from bot.nlu.parser import NluParser
from retrieval.atomic import atomic_folder
from retrieval.embeddings import packaged_minilm_path, resolve_model
from retrieval.loaders import DataError, DataIssue, KnowledgeBase
from retrieval.loaders.policies import slugify

if TYPE_CHECKING:  # the trainer loads torch: only when a model is trained or checked
    from bot.nlu.trainer import TrainConfig

NLU_FILES = ("nlu.yml", "nlu.yaml", "nlu")
SENTIMENT_FILES = ("sentiment.yml", "sentiment.yaml", "sentiment.csv")
MIN_EXAMPLES = 10
log = logging.getLogger("shopbot.nlu")


def find_sources(kb: KnowledgeBase) -> tuple[Path | None, Path | None]:
    """The knowledge base's NLU file and sentiment file, where they exist."""
    nlu = next((kb.root / n for n in NLU_FILES if (kb.root / n).exists()), None)
    return nlu, next((kb.root / n for n in SENTIMENT_FILES if (kb.root / n).exists()), None)


def load_training_data(kb: KnowledgeBase) -> tuple[list[Example], list[Example], dict[str, Any]]:
    """Intent examples, sentiment examples and entity rules, validated; `DataError` lists every problem."""
    nlu_path, sentiment_path = find_sources(kb)
    if nlu_path is None:
        raise DataError([DataIssue(str(kb.root), f"no NLU training data (looked for {', '.join(NLU_FILES)})")])
    data = load_nlu_data(nlu_path)
    sentiment = load_sentiment_data(sentiment_path) if sentiment_path else []
    issues = validate_examples(data.examples, MIN_EXAMPLES) + validate_examples(sentiment, MIN_EXAMPLES)
    if issues:
        raise DataError(issues)
    rules = {"regexes": data.regexes, "lookups": data.lookups, "synonyms": data.synonyms}
    return data.examples, sentiment, rules


def fingerprint(intents: list[Example], sentiment: list[Example], rules: dict[str, Any], config: TrainConfig,
                encoder_id: str) -> str:
    digest = hashlib.sha256(json.dumps({"encoder": encoder_id, "config": asdict(config), "rules": rules},
                                       sort_keys=True).encode())
    for example in intents + sentiment:
        digest.update(json.dumps([example.text, example.label]).encode())
    return digest.hexdigest()


def model_folder(cache_dir: Path, kb: KnowledgeBase, data_fingerprint: str) -> Path:
    return Path(cache_dir) / "nlu" / f"{slugify(kb.name)}-{data_fingerprint[:12]}"


def train_store_nlu(kb: KnowledgeBase, cache_dir: Path, config: TrainConfig | None = None, force: bool = False,
                    progress: bool = False) -> tuple[Path, dict[str, Any], bool]:
    """Train the store's model unless an intact one for exactly this data exists (a damaged one is trained again).
    Returns (folder, metadata, trained); the metadata holds the sha256 of every file of the model."""
    from bot.nlu.model import ModelIntegrityError, seal_model, verify_model
    from bot.nlu.trainer import TrainConfig, train_nlu

    config = config or TrainConfig()
    intents, sentiment, rules = load_training_data(kb)
    _, encoder_id = resolve_model(None)
    data_fingerprint = fingerprint(intents, sentiment, rules, config, encoder_id)
    folder = model_folder(cache_dir, kb, data_fingerprint)
    if (folder / "metadata.json").is_file() and not force:
        try:
            return folder, verify_model(folder), False
        except ModelIntegrityError as exc:
            log.warning("%s: training it again", exc)
    with atomic_folder(folder) as staging:
        metadata = train_nlu(intents, sentiment, packaged_minilm_path(), staging, config, progress,
                             {"data_fingerprint": data_fingerprint, "encoder": encoder_id, "rules": rules,
                              "store": kb.name, "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
        metadata = seal_model(staging, metadata)
    return folder, metadata, True


def latest_model(kb: KnowledgeBase, cache_dir: Path) -> Path | None:
    """The store's most recently trained model folder, if any."""
    candidates = sorted((Path(cache_dir) / "nlu").glob(f"{slugify(kb.name)}-*/metadata.json"),
                        key=lambda p: p.stat().st_mtime)
    return candidates[-1].parent if candidates else None


def load_store_parser(kb: KnowledgeBase, folder: Path, device: str = "cpu", onnx: bool = True) -> NluParser:
    """The parser of a trained model, with entity look-ups over this store's catalog. A model whose weights do not
    match their checksums is refused (`ModelIntegrityError`, saying to run `shopbot train --force`): serving never
    trains on its own."""
    parser = NluParser.load(folder, device=device, onnx=onnx)
    parser.extractor = EntityExtractor.from_catalog(kb.products, **parser.metadata.get("rules", {}))
    return parser
