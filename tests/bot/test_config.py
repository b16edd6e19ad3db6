from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings
from tests.conftest import write


def test_file_then_environment_then_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = write(tmp_path / "shopbot.yml", "kb_dir: /stores/a\nretrieval: {keyword_weight: 0.3}\nfinetune: {epochs: 1}\n")
    settings = load_settings(config)
    assert settings.kb_dir == Path("/stores/a") and settings.retrieval.keyword_weight == 0.3
    assert settings.finetune.epochs == 1 and settings.finetune.enabled
    monkeypatch.setenv("SHOPBOT_KB", "/stores/b")
    monkeypatch.setenv("SHOPBOT_FINETUNE", "false")
    settings = load_settings(config)
    assert settings.kb_dir == Path("/stores/b") and not settings.finetune.enabled and settings.finetune.epochs == 1
    assert load_settings(config, kb_dir=Path("/stores/c")).kb_dir == Path("/stores/c")
    assert load_settings(config).retrieval.to_config().keyword_weight == 0.3


def test_bad_configuration_names_file_and_field(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"shopbot.yml: invalid configuration: retrieval.rrf_k"):
        load_settings(write(tmp_path / "shopbot.yml", "retrieval: {rrf_k: lots}\n"))
    with pytest.raises(ConfigError, match="embedding_modle"):
        load_settings(write(tmp_path / "shopbot.yml", "embedding_modle: x\n"))
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_settings(write(tmp_path / "shopbot.yml", "- a\n"))
