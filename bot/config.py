"""The bot's settings: defaults, overridden by a YAML file (`shopbot.yml` or `--config`), then `SHOPBOT_*`
variables, then explicit values (pydantic-settings; how they are read is in `retrieval.settings`).

`Settings` extends what the actions read (`actions.settings.ActionSettings`: the store, its search, the demo order
back-end and the ledger) with the bot's own sections, so each setting is defined once and an action server reading
the same file and environment serves the same store. The README's configuration table is generated from these
fields (`scripts/settings_table.py`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_settings import SettingsConfigDict

from actions.settings import ActionSettings, SharedDialogueSettings, SharedServerSettings
from retrieval.settings import ConfigError, doc
from retrieval.store import DEMO_KB, PROJECT_ROOT, FinetuneSettings, RetrievalSettings, make_embedder

__all__ = ["DEMO_KB", "PROJECT_ROOT", "BatchingSettings", "ConfigError", "DialogueSettings", "FinetuneSettings",
           "LoggingSettings", "NudgeSettings", "PrivacySettings", "ResponderSettings", "RetrievalSettings",
           "ServerSettings", "Settings", "TelegramSettings", "WhatsAppSettings", "load_settings", "make_embedder"]


class ResponderSettings(BaseModel):
    """How replies are written: the causal LM (a folder, a locally cached id such as `gpt2`, or `smollm2`)."""

    model_config = ConfigDict(extra="forbid")
    # auto: generate when a tuned adapter exists, a GPU is present or another LM is named, else extractive
    # (untuned SmolLM2 on a CPU is slow and its sentences rarely survive the guard)
    mode: Literal["auto", "generate", "extractive"] = Field("auto", **doc(
        "`generate` (the LM writes, the guard checks), `extractive` (the sources' own sentences), `auto` (generate "
        "when a tuned adapter exists, a GPU is present or another LM is named)", env="SHOPBOT_RESPONDER_MODE"))
    model: str = Field("smollm2", **doc("the packaged SmolLM2-135M-Instruct, or a local model folder (`gpt2`, "
                                        "`distilgpt2` and chat models alike)", env="SHOPBOT_LM"))
    adapter: str = Field("auto", **doc("the latest `shopbot train responder` adapter, `none`, or a folder",
                                       env="SHOPBOT_LM_ADAPTER"))
    max_new_tokens: int = Field(48, **doc("reply length"))
    prompt_tokens: int = Field(512, **doc("prompt budget (oldest turns, then the weakest sources are trimmed)"))
    history_messages: int = Field(2, ge=0, **doc("earlier chat messages in the prompt (the last exchange, for "
                                                 "follow-ups)"))
    # SmolLM2-135M answered from the wrong one of 3 sources in 63 of 214 questions
    k_sources: int = Field(1, **doc("sources per reply"))
    engine: Literal["auto", "llama_cpp", "vllm", "transformers", "openai"] = Field("auto", **doc(
        "what runs the LM: `llama_cpp` (the packaged GGUF on the CPU), `vllm` (CUDA), `transformers` (any local "
        "Hugging Face model; LoRA adapters), `openai` (the server at `responder.endpoint`); `auto`: `openai` when "
        "an endpoint is set, `transformers` for an adapter or a model folder, `vllm` on CUDA when installed, "
        "else `llama_cpp`"))
    endpoint: str | None = Field(None, **doc("an OpenAI-compatible server's base URL (`http://host:8000/v1`); "
                                             "its API key is read from `SHOPBOT_RESPONDER_API_KEY`"))
    remote_model: str | None = Field(None, **doc("the model name sent to the endpoint (default: the first the "
                                                 "server lists)"))
    timeout_s: float = Field(20.0, gt=0, **doc("how long a remote request may take in all"))
    retries: int = Field(2, ge=0, **doc("retries of a remote request that failed before its first token"))
    quantization: Literal["as_shipped", "q4_0", "q8_0"] = Field("q4_0", **doc(
        "the GGUF llama.cpp reads: re-quantised once into the cache (`q4_0`: llama.cpp repacks it for AVX2/AVX-512; "
        "prefill 2.4x and decoding 1.2x faster than the shipped Q4_1, the same answer F1), or `as_shipped`"))
    threads: int = Field(0, ge=0, **doc("CPU threads the local engine uses (0: every core)"))
    deadline_ms: float = Field(1500.0, ge=0, **doc(
        "a reply that would start later than this behind the LM's queue is answered from its source at once "
        "(0: whenever the LM is busy)"))


class BatchingSettings(BaseModel):
    """Running the models of concurrent turns together: a request waits at most `max_wait_ms` for company."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = Field(True, **doc("run the model calls of concurrent turns together (`false`: each alone)"))
    max_wait_ms: float = Field(2.0, ge=0, **doc("how long a request waits for others to share its batch"))
    nlu_max_batch: int = Field(32, ge=1, **doc("messages parsed in one NLU forward pass"))
    embed_max_batch: int = Field(32, ge=1, **doc("queries embedded in one forward pass"))


class DialogueSettings(SharedDialogueSettings):
    """Conversations: where they are kept, where actions run, and when the bot asks, falls back or hands off."""

    model_config = ConfigDict(extra="forbid")
    domain: Path | None = Field(None, **doc("the dialogue's domain file", shown="`domain.yml` in `kb_dir`, else the "
                                                                                "demo's"))
    database: str = Field("", **doc("any SQLAlchemy URL, e.g. `postgresql+psycopg://user@host/db` (`pip install "
                                    "'.[postgres]'`), or a SQLite path", env="SHOPBOT_DATABASE_URL",
                                    shown="SQLite in `data_dir`"))
    action_server_url: str = Field("", **doc("a rasa-sdk action server, e.g. `http://localhost:5055`",
                                             env="SHOPBOT_ACTION_SERVER_URL", shown="empty (in-process)"))
    action_timeout_s: float = Field(5.0, **doc("per action-server call"))
    action_attempts: int = Field(3, **doc("tries per action-server call, with exponential back-off between them"))
    ask_below: float = Field(0.6, **doc('top intent confidence below this asks "did you mean ...?" with two '
                                        'buttons'))
    handoff_sentiment: float = Field(0.9, **doc("negative sentiment at or above this score offers a person"))
    max_fallbacks: int = Field(2, **doc("this many fallbacks in a row offer a person"))


class TelegramSettings(BaseModel):
    """The Telegram bot: its token from @BotFather and the webhook's secret token (set with setWebhook)."""

    model_config = ConfigDict(extra="forbid")
    token: str = Field("", **doc("the bot's token from @BotFather", env="SHOPBOT_TELEGRAM_TOKEN",
                                 shown="empty (Telegram off)"))
    secret_token: str = Field("", **doc("the webhook's secret token (1-256 of A-Z a-z 0-9 _ -), required with a "
                                        "token", env="SHOPBOT_TELEGRAM_SECRET"))
    api_base: str = Field("https://api.telegram.org", **doc("the Bot API (a local fake in tests)"))


class WhatsAppSettings(BaseModel):
    """WhatsApp Cloud API: the verify token of the webhook handshake, the app secret that signs deliveries, and
    the access token replies are sent with."""

    model_config = ConfigDict(extra="forbid")
    verify_token: str = Field("", **doc("the webhook handshake's verify token", env="SHOPBOT_WHATSAPP_VERIFY_TOKEN",
                                        shown="empty (WhatsApp off)"))
    app_secret: str = Field("", **doc("the app secret Meta signs deliveries with, required with either token",
                                      env="SHOPBOT_WHATSAPP_APP_SECRET"))
    access_token: str = Field("", **doc("the token replies are sent with", env="SHOPBOT_WHATSAPP_ACCESS_TOKEN"))
    api_base: str = Field("https://graph.facebook.com/v21.0", **doc("the Graph API"))


SECRET_LENGTHS = {"session_key": 32, "admin_token": 16}   # the shortest secret each setting takes


class ServerSettings(SharedServerSettings):
    """The HTTP server: where it listens, who may talk to it, and how much (`public_url`: `SharedServerSettings`)."""

    model_config = ConfigDict(extra="forbid")
    host: str = Field("127.0.0.1", **doc("the address `shopbot serve` listens on", env="SHOPBOT_HOST"))
    port: int = Field(5005, **doc("its port", env="SHOPBOT_PORT"))
    auth_token: str = Field("", **doc("when set, channels need it (`Authorization: Bearer`, `X-Shopbot-Token`, "
                                      "`?token=` or socket.io `auth`)", env="SHOPBOT_AUTH_TOKEN",
                                      shown="empty (no token)"))
    agent_token: str = Field("", **doc("the `/agent` console's token", env="SHOPBOT_AGENT_TOKEN",
                                       shown="empty (agent console off)"))
    admin_token: str = Field("", repr=False, **doc(
        "the `/admin` analytics page's token (at least 16 characters; sent as `Authorization: Bearer`)",
        env="SHOPBOT_ADMIN_TOKEN", shown="empty (analytics page off)"))
    cors_origins: list[str] = Field(default_factory=list, **doc(
        "browser origins allowed besides the server's own (a JSON list in the environment)",
        shown="`[]` (same origin only)"))
    max_message_chars: int = Field(2000, **doc("longest message accepted"))
    messages_per_minute: int = Field(30, **doc("per connection (websocket, socket.io) or sender (REST)"))
    ip_messages_per_minute: int = Field(120, **doc("per client address"))
    max_connections: int = Field(1000, **doc("open browser sockets (`/ws` and socket.io) in all"))
    idle_timeout_s: float = Field(900, **doc("a websocket with no message for this long is closed (4000)"))
    max_connections_per_ip: int = Field(20, ge=0, **doc("open browser sockets per client address; 0: no cap"))
    first_message_timeout_s: float = Field(60, gt=0, **doc("a socket that sends nothing for this long after "
                                                           "connecting is closed (4001)"))
    session_key: str = Field("", repr=False, **doc(
        "the HMAC key of chat session ids, at least 32 characters; replicas on separate machines must share it; "
        "changing it ends every session", env="SHOPBOT_SESSION_KEY", shown="empty: `data_dir/session.key` (0600)"))
    heartbeat_s: float = Field(25, **doc("websocket heartbeat interval"))
    shutdown_timeout_s: float = Field(30, gt=0, **doc("on SIGTERM, how long turns in flight get to finish and be "
                                                      "delivered"))
    telegram: TelegramSettings = Field(default_factory=TelegramSettings)
    whatsapp: WhatsAppSettings = Field(default_factory=WhatsAppSettings)

    @field_validator("session_key", "admin_token")
    @classmethod
    def _long_secret(cls, value: str, info: ValidationInfo) -> str:
        shortest = SECRET_LENGTHS[info.field_name]
        if value and len(value) < shortest:
            raise ValueError(f"{info.field_name} must be at least {shortest} characters "
                             f"(e.g. `openssl rand -hex {shortest}`)")
        return value


DataKind = Literal["transcript", "behaviour"]  # optional data a store may ask consent for
DATA_KINDS: tuple[str, ...] = get_args(DataKind)
ConsentMode = Literal["none", "notice", "opt_in"]
ALWAYS_ASKED: dict[str, ConsentMode] = {"behaviour": "opt_in"}   # kinds never kept without consent: their default


class PrivacySettings(BaseModel):
    """What shoppers are asked before optional data is kept, how long conversations are kept, what is redacted.

    `consent` maps each kind of optional data to `none` (kept without asking), `notice` (kept unless the shopper
    withdraws) or `opt_in` (kept only after the shopper grants it); one word applies to every kind. The kinds:
    `transcript`, a conversation's events beyond its session (without consent, deleted once the session has
    expired), and `behaviour`, the storefront's browsing events (`bot.privacy.behaviour`), which are never kept
    without consent: `opt_in` unless the store names `notice` (`none` is refused for it, and one word `none` leaves
    it at `opt_in`).
    """

    model_config = ConfigDict(extra="forbid")
    consent: dict[DataKind, ConsentMode] = Field(default_factory=lambda: {"transcript": "none"}, **doc(
        "per kind of optional data (`transcript`: the conversation beyond its session; `behaviour`: storefront "
        "browsing events): `none` kept without asking, `notice` kept unless withdrawn, `opt_in` kept only once "
        "granted; without consent a conversation is deleted once its session has expired. One word sets every kind "
        "(`behaviour` is `opt_in` or `notice`, never `none`)", shown="`none` (`behaviour`: `opt_in`)"))
    retention_days: float = Field(0, ge=0, **doc(
        "conversations idle longer are deleted by `shopbot serve` and by `shopbot privacy purge`; log-file lines "
        "older are dropped", shown="`0` (kept until erased)"))
    purge_every_minutes: float = Field(60, gt=0, **doc("how often `shopbot serve` applies retention and consent"))
    redact_transcripts: bool = Field(False, **doc(
        "also remove emails and phone numbers from the stored text of shopper and bot messages (card numbers: "
        "always)"))

    @field_validator("consent", mode="before")
    @classmethod
    def _one_mode_for_all(cls, value: Any) -> Any:
        if isinstance(value, str):   # `none` leaves the kinds always asked for at their default
            return {kind: value for kind in DATA_KINDS if not (value == "none" and kind in ALWAYS_ASKED)}
        return value

    @field_validator("consent")
    @classmethod
    def _asked_kinds_need_consent(cls, value: dict[str, str]) -> dict[str, str]:
        for kind in ALWAYS_ASKED:
            if value.get(kind) == "none":
                raise ValueError(f"`{kind}` is only kept with the shopper's consent: `opt_in` or `notice`, not `none`")
        return value

    def mode(self, kind: str) -> str:
        """The consent mode for a kind of data (for a kind the store did not name: `opt_in` for `behaviour`,
        else `none`)."""
        return self.consent.get(kind, ALWAYS_ASKED.get(kind, "none"))  # type: ignore[call-overload]


class NudgeSettings(BaseModel):
    """Proactive nudges: the widget opens with one message about a product the shopper has looked at for a while
    or left in the cart, drawn from that product's facts; only with the shopper's `behaviour` consent, at most
    once a session, never after a "no" (`bot.nudges`)."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = Field(False, **doc("send nudges (only to shoppers who consented to `behaviour` events)"))
    after_seconds: float = Field(30, gt=0, le=3600, **doc(
        "how long a product is looked at, or left in the cart, before the one nudge"))


class LoggingSettings(BaseModel):
    """Where logs go besides stderr: an optional file of JSON lines (which `shopbot privacy erase` rewrites)."""

    model_config = ConfigDict(extra="forbid")
    file: Path | None = Field(None, **doc("also write the redacted JSON log lines to this file (erasure and "
                                          "retention rewrite it)", env="SHOPBOT_LOG_FILE", shown="empty"))


class Settings(ActionSettings):
    """Everything a deployment can configure (an unknown key is an error)."""

    model_config = SettingsConfigDict(extra="forbid")
    # dev set: 3 of 70 in-scope questions fall below, out-of-scope ones stay under 0.26
    answer_min_similarity: float = Field(0.35, **doc("below this cosine similarity of the best passage the bot "
                                                     "says it is not sure (chosen on the dev paraphrase set)"))
    responder: ResponderSettings = Field(default_factory=ResponderSettings)
    batching: BatchingSettings = Field(default_factory=BatchingSettings)
    dialogue: DialogueSettings = Field(default_factory=DialogueSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    nudges: NudgeSettings = Field(default_factory=NudgeSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)


def load_settings(path: Path | None = None, **overrides: Any) -> Settings:
    """Defaults < YAML file (`path`, else `SHOPBOT_CONFIG`, else `./shopbot.yml`) < environment < explicit
    overrides (None values are ignored). Raises `ConfigError` naming the file or variable and the field."""
    return Settings.load(path, **overrides)
