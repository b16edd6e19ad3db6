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


# Every variable name the README documented before the settings moved to pydantic-settings, with a value and the
# setting it must reach.
OLDER_NAMES = {
    "SHOPBOT_KB": ("kb_dir", "/stores/x", Path("/stores/x")),
    "SHOPBOT_CACHE_DIR": ("cache_dir", "/tmp/cache", Path("/tmp/cache")),
    "SHOPBOT_DATA_DIR": ("data_dir", "/tmp/data", Path("/tmp/data")),
    "SHOPBOT_EMBEDDING_MODEL": ("embedding_model", "/models/e5", "/models/e5"),
    "SHOPBOT_EMBEDDING_BACKEND": ("embedding_backend", "torch", "torch"),
    "SHOPBOT_DEVICE": ("device", "cpu", "cpu"),
    "SHOPBOT_FINETUNE": ("finetune.enabled", "false", False),
    "SHOPBOT_STORE_URL": ("store_url", "https://shop.example", "https://shop.example"),
    "SHOPBOT_RESPONDER_MODE": ("responder.mode", "extractive", "extractive"),
    "SHOPBOT_LM": ("responder.model", "gpt2", "gpt2"),
    "SHOPBOT_LM_ADAPTER": ("responder.adapter", "none", "none"),
    "SHOPBOT_DATABASE_URL": ("dialogue.database", "postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
    "SHOPBOT_REDIS_URL": ("dialogue.redis_url", "redis://r:6379/0", "redis://r:6379/0"),
    "SHOPBOT_ACTION_SERVER_URL": ("dialogue.action_server_url", "http://a:5055", "http://a:5055"),
    "SHOPBOT_HOST": ("server.host", "0.0.0.0", "0.0.0.0"),
    "SHOPBOT_PORT": ("server.port", "8080", 8080),
    "SHOPBOT_AUTH_TOKEN": ("server.auth_token", "t0ken", "t0ken"),
    "SHOPBOT_AGENT_TOKEN": ("server.agent_token", "agent", "agent"),
    "SHOPBOT_ADMIN_TOKEN": ("server.admin_token", "admin-token-0123456789", "admin-token-0123456789"),
    "SHOPBOT_SESSION_KEY": ("server.session_key", "k" * 32, "k" * 32),
    "SHOPBOT_TELEGRAM_TOKEN": ("server.telegram.token", "123:abc", "123:abc"),
    "SHOPBOT_TELEGRAM_SECRET": ("server.telegram.secret_token", "s3cret", "s3cret"),
    "SHOPBOT_WHATSAPP_VERIFY_TOKEN": ("server.whatsapp.verify_token", "v", "v"),
    "SHOPBOT_WHATSAPP_APP_SECRET": ("server.whatsapp.app_secret", "a", "a"),
    "SHOPBOT_WHATSAPP_ACCESS_TOKEN": ("server.whatsapp.access_token", "c", "c"),
    "SHOPBOT_LOG_FILE": ("logging.file", "/tmp/shopbot.log", Path("/tmp/shopbot.log")),
    "SHOPBOT_ORDERS": ("order_backend.orders_file", "/tmp/orders.json", Path("/tmp/orders.json")),
    "SHOPBOT_STORE_DB": ("order_backend.database", "/tmp/store.db", "/tmp/store.db"),
    "SHOPBOT_TODAY": ("order_backend.today", "2026-11-23T12:00:00-05:00", "2026-11-23T12:00:00-05:00"),
    "SHOPBOT_GUARD_DB": ("guard.database", "/tmp/guard.db", "/tmp/guard.db"),
    "SHOPBOT_GUARD_SECRET": ("guard.secret", "s" * 40, "s" * 40),
    "SHOPBOT_PUBLIC_URL": ("server.public_url", "https://shop.example/chat", "https://shop.example/chat"),
}


def setting(settings: object, path: str) -> object:
    for key in path.split("."):
        settings = getattr(settings, key)
    return settings


@pytest.mark.parametrize("name", sorted(OLDER_NAMES))
def test_every_documented_variable_still_works(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, raw, value = OLDER_NAMES[name]
    monkeypatch.chdir(tmp_path)  # no shopbot.yml here
    monkeypatch.setenv(name, raw)
    assert setting(load_settings(), path) == value
    monkeypatch.setenv(name, "")  # empty: unset, as before
    assert setting(load_settings(), path) != value


def test_the_model_keeps_exactly_these_older_names() -> None:
    from bot.config import Settings
    from retrieval.settings import env_name, older_names

    kept = {name: path for name, (path, _, _) in OLDER_NAMES.items() if name != env_name(tuple(path.split(".")))}
    assert {name: ".".join(path) for name, path in older_names(Settings).items()} == kept


def test_nested_variables_win_over_older_names_and_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = write(tmp_path / "shopbot.yml", "dialogue: {redis_url: 'redis://file'}\nserver: {port: 7000}\n")
    assert load_settings(config).dialogue.redis_url == "redis://file"
    monkeypatch.setenv("SHOPBOT_REDIS_URL", "redis://older")
    assert load_settings(config).dialogue.redis_url == "redis://older"
    monkeypatch.setenv("SHOPBOT_DIALOGUE__REDIS_URL", "redis://nested")
    monkeypatch.setenv("SHOPBOT_SERVER__CORS_ORIGINS", '["https://shop.example"]')
    monkeypatch.setenv("SHOPBOT_RETRIEVAL__KEYWORD_WEIGHT", "0.25")
    settings = load_settings(config)
    assert settings.dialogue.redis_url == "redis://nested" and settings.server.port == 7000
    assert settings.server.cors_origins == ["https://shop.example"] and settings.retrieval.keyword_weight == 0.25
    assert load_settings(config, server={"port": 7001}).server.port == 7001


def test_the_config_file_can_come_from_shopbot_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "shopbot.yml", "store_url: https://cwd.example\n")
    assert load_settings().store_url == "https://cwd.example"
    monkeypatch.setenv("SHOPBOT_CONFIG", str(write(tmp_path / "other.yml", "store_url: https://named.example\n")))
    assert load_settings().store_url == "https://named.example"
    monkeypatch.setenv("SHOPBOT_CONFIG", str(tmp_path / "missing.yml"))
    with pytest.raises(ConfigError, match="missing.yml: cannot read configuration"):
        load_settings()


@pytest.mark.parametrize("variable, value, message", [
    ("SHOPBOT_PORT", "many", r"^SHOPBOT_PORT: invalid configuration: server\.port: "),
    ("SHOPBOT_DIALOGUE__ASK_BELOW", "sometimes", r"^SHOPBOT_DIALOGUE__ASK_BELOW: invalid configuration: dialogue\.ask_below"),
    ("SHOPBOT_SERVER__CORS_ORIGINS", "https://a.example", r"^SHOPBOT_SERVER__CORS_ORIGINS: .*server\.cors_origins: .*JSON"),
    ("SHOPBOT_SERVER__PROT", "8080", r"^SHOPBOT_SERVER__PROT: invalid configuration: server\.prot: Extra"),
    ("SHOPBOT_TODAY", "next tuesday", r"^SHOPBOT_TODAY: invalid configuration: order_backend\.today"),
])
def test_bad_variables_name_the_variable_and_the_field(monkeypatch: pytest.MonkeyPatch, variable: str, value: str,
                                                       message: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=message):
        load_settings()


def test_the_actions_read_the_bots_file_and_ignore_its_own_keys(tmp_path: Path) -> None:
    from actions.settings import ActionSettings
    from retrieval.store import StoreSearchSettings

    config = write(tmp_path / "shopbot.yml",
                   "cache_dir: /tmp/c\nretrieval: {rrf_k: 20}\nfinetune: {enabled: false}\n"
                   "server: {port: 7000, public_url: 'https://shop.example'}\n"
                   "dialogue: {redis_url: 'redis://r', ask_below: 0.5}\norder_backend: {today: '2026-11-23'}\n")
    search, actions, bot = StoreSearchSettings.load(config), ActionSettings.load(config), load_settings(config)
    assert search.cache_dir == actions.cache_dir == bot.cache_dir == Path("/tmp/c")
    assert search.retrieval == actions.retrieval == bot.retrieval and search.retrieval.rrf_k == 20
    assert not search.finetune.enabled and actions.dialogue.redis_url == bot.dialogue.redis_url == "redis://r"
    assert actions.order_backend == bot.order_backend and bot.order_backend.today == "2026-11-23"
    assert actions.server.public_url == bot.server.public_url == "https://shop.example"
    with pytest.raises(ConfigError, match=r"shopbot.yml: invalid configuration: retrieval\.rrf_k"):
        StoreSearchSettings.load(write(tmp_path / "shopbot.yml", "retrieval: {rrf_k: lots}\n"))


def run_table_script(*args: str):
    import subprocess
    import sys

    from tests.support import PROJECT_ROOT

    return subprocess.run([sys.executable, str(PROJECT_ROOT / "scripts" / "settings_table.py"), *args],
                          capture_output=True, text=True, cwd=PROJECT_ROOT)


def test_the_readme_table_is_the_one_the_settings_model_gives(tmp_path: Path) -> None:
    from tests.support import PROJECT_ROOT

    checked = run_table_script("--check")
    assert checked.returncode == 0, checked.stderr
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    assert "| `dialogue.redis_url` | `SHOPBOT_REDIS_URL`, `SHOPBOT_DIALOGUE__REDIS_URL` | empty |" in readme
    stale = write(tmp_path / "README.md", readme.replace("| `server.port` | `SHOPBOT_PORT`, `SHOPBOT_SERVER__PORT` "
                                                         "| `5005` |", "| `server.port` | `SHOPBOT_PORT` | `80` |"))
    failed = run_table_script("--check", "--readme", str(stale))
    assert failed.returncode == 1 and "differs from the settings model" in failed.stderr
    assert run_table_script("--readme", str(stale)).returncode == 0
    assert stale.read_text(encoding="utf-8") == readme
