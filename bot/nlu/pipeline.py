"""The store's NLU model: validate its training data, train when the data changed, load the parser."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
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
from retrieval.store import DEMO_KB

if TYPE_CHECKING:  # the trainer loads torch: only when a model is trained or checked
    from bot.nlu.trainer import TrainConfig

NLU_FILES = ("nlu.yml", "nlu.yaml", "nlu")
SENTIMENT_FILES = ("sentiment.yml", "sentiment.yaml", "sentiment.csv")
MIN_EXAMPLES = 10
# The generic customer-service NLU a store without its own `nlu.yml` gets: the demo's intents and sentiment rows
# (greetings, handoff, orders, returns, shipping, payments, products; the dialogue of `domain_path`'s default).
# Its model is named `generic-<fingerprint>` and trained once per cache, reused by every such store.
GENERIC_NLU_DIR = DEMO_KB
GENERIC_NAME = "generic"
log = logging.getLogger("shopbot.nlu")


def own_sources(kb: KnowledgeBase) -> tuple[Path | None, Path | None]:
    """The knowledge base's own NLU file and sentiment file, where they exist."""
    nlu = next((kb.root / n for n in NLU_FILES if (kb.root / n).exists()), None)
    return nlu, next((kb.root / n for n in SENTIMENT_FILES if (kb.root / n).exists()), None)


def uses_generic_nlu(kb: KnowledgeBase) -> bool:
    """True when the store has no NLU data of its own and gets the generic NLU."""
    return own_sources(kb)[0] is None


def find_sources(kb: KnowledgeBase) -> tuple[Path | None, Path | None]:
    """The NLU file and sentiment file the store's model trains on: its own, else the generic ones (a store's own
    sentiment file is kept with the generic intents)."""
    nlu, sentiment = own_sources(kb)
    if nlu is not None:
        return nlu, sentiment
    generic = next(GENERIC_NLU_DIR / n for n in NLU_FILES if (GENERIC_NLU_DIR / n).exists())
    return generic, sentiment or next((GENERIC_NLU_DIR / n for n in SENTIMENT_FILES
                                       if (GENERIC_NLU_DIR / n).exists()), None)


def load_training_data(kb: KnowledgeBase) -> tuple[list[Example], list[Example], dict[str, Any]]:
    """Intent examples, sentiment examples and entity rules, validated; `DataError` lists every problem."""
    nlu_path, sentiment_path = find_sources(kb)
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


def model_name(kb: KnowledgeBase) -> str:
    """The prefix of the store's model folders: its name's slug, or `generic` when it uses the generic NLU."""
    return GENERIC_NAME if uses_generic_nlu(kb) else slugify(kb.name)


def model_folder(cache_dir: Path, kb: KnowledgeBase, data_fingerprint: str) -> Path:
    return Path(cache_dir) / "nlu" / f"{model_name(kb)}-{data_fingerprint[:12]}"


def _same_model(cache_dir: Path, data_fingerprint: str, folder: Path) -> Path | None:
    """An intact model trained on exactly this data under another name (the demo's model is the generic one)."""
    from bot.nlu.model import ModelIntegrityError, verify_model

    for other in sorted((Path(cache_dir) / "nlu").glob(f"*-{data_fingerprint[:12]}/metadata.json")):
        if other.parent == folder:
            continue
        try:
            if verify_model(other.parent).get("data_fingerprint") == data_fingerprint:
                return other.parent
        except (ModelIntegrityError, OSError, ValueError):
            continue
    return None


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
    same = _same_model(cache_dir, data_fingerprint, folder)
    if same is not None and not force:   # a copy, so each name's folder stands alone (and is sealed as it was)
        log.info("reusing %s (trained on the same data) as %s", same.name, folder.name)
        with atomic_folder(folder) as staging:
            shutil.copytree(same, staging, dirs_exist_ok=True)
        return folder, verify_model(folder), False
    with atomic_folder(folder) as staging:
        metadata = train_nlu(intents, sentiment, packaged_minilm_path(), staging, config, progress,
                             {"data_fingerprint": data_fingerprint, "encoder": encoder_id, "rules": rules,
                              "store": kb.name, "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
        metadata = seal_model(staging, metadata)
    return folder, metadata, True


def latest_model(kb: KnowledgeBase, cache_dir: Path) -> Path | None:
    """The store's most recently trained model folder, if any."""
    candidates = sorted((Path(cache_dir) / "nlu").glob(f"{model_name(kb)}-*/metadata.json"),
                        key=lambda p: p.stat().st_mtime)
    return candidates[-1].parent if candidates else None


def load_store_parser(kb: KnowledgeBase, folder: Path, device: str = "cpu", onnx: bool = True) -> NluParser:
    """The parser of a trained model, with entity look-ups over this store's catalog. A model whose weights do not
    match their checksums is refused (`ModelIntegrityError`, saying to run `shopbot train --force`): serving never
    trains on its own."""
    parser = NluParser.load(folder, device=device, onnx=onnx)
    parser.extractor = EntityExtractor.from_catalog(kb.products, **parser.metadata.get("rules", {}))
    return parser
