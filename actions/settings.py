"""What the actions read from the settings: the store they serve and its search (`retrieval.store`), the demo
order back-end and the verification ledger.

The same `SHOPBOT_*` variables and YAML file as the bot's (`bot.config.Settings` extends `ActionSettings`), so a
stock `python -m rasa_sdk --actions actions` server set up like the bot serves the same store the same way. Keys
of the bot's own (`responder`, `server`, ...) are ignored here.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from retrieval.settings import doc
from retrieval.store import PROJECT_ROOT, StoreSearchSettings


class OrderBackendSettings(BaseModel):
    """The demo order back-end: a SQLite copy of the served store's own orders."""

    model_config = ConfigDict(extra="forbid")
    orders_file: Path | None = Field(None, **doc("the orders file of the demo back-end", env="SHOPBOT_ORDERS",
                                                 shown="the store's own `orders.json`"))
    database: str = Field(":memory:", **doc("the SQLite file the demo back-end keeps its copy of the orders in "
                                            "(`:memory:`: one per process)", env="SHOPBOT_STORE_DB"))
    today: str = Field("", **doc('a fixed "now" (ISO date or time) for the demo back-end (return windows), for '
                                 'reproducible demos', env="SHOPBOT_TODAY", shown="empty (the clock)"))

    @field_validator("today")
    @classmethod
    def _iso_time(cls, value: str) -> str:
        if value:
            datetime.fromisoformat(value)  # a ValueError names the field
        return value


class LedgerSettings(BaseModel):
    """Where failed identity checks are counted (besides Redis, `dialogue.redis_url`)."""

    model_config = ConfigDict(extra="forbid")
    database: str = Field("", **doc("the verification ledger (failed identity checks), a SQLite file shared by "
                                    "the bot and an action server; Redis instead when `dialogue.redis_url` is set",
                                    env="SHOPBOT_GUARD_DB", shown="`data_dir/verification.db`"))
    secret: str = Field("", repr=False, **doc("the key of the ledger's hashes (emails, addresses and order ids are "
                                              "never stored in the clear), the same for every process sharing it",
                                              env="SHOPBOT_GUARD_SECRET", shown="a random key kept in the ledger"))


class SharedDialogueSettings(BaseModel):
    """The part of `dialogue` the actions use: the Redis that several processes share."""

    model_config = ConfigDict(extra="ignore")
    redis_url: str = Field("", **doc(
        "Redis for everything several server processes share: conversation locks, rate limits, verification "
        "lock-outs, agent replies and socket.io emits (see [Several replicas](#several-replicas)). Without it "
        "`shopbot serve` locks its conversation database (a `conversations.db.lock` file, or a PostgreSQL "
        "advisory lock) and a second process on the same database refuses to start", env="SHOPBOT_REDIS_URL"))


class SharedServerSettings(BaseModel):
    """The part of `server` the actions use: the address the outside reaches the bot at (return-label links)."""

    model_config = ConfigDict(extra="ignore")
    public_url: str = Field("", **doc(
        "how the outside reaches this server: absolute image and return-label links for messengers, and the only "
        "browser origin besides `cors_origins`", env="SHOPBOT_PUBLIC_URL",
        shown="empty (loopback names on the server's port)"))


class ActionSettings(StoreSearchSettings):
    """Everything the actions read: the store and its search, conversations' data folder, the shared Redis, the
    server's public address, the demo order back-end and the ledger."""

    data_dir: Path = Field(default_factory=lambda: PROJECT_ROOT / ".shopbot_data",
                           **doc("where conversations (`conversations.db`) and the verification ledger are kept "
                                 "(not a cache)"))
    dialogue: SharedDialogueSettings = Field(default_factory=SharedDialogueSettings)
    server: SharedServerSettings = Field(default_factory=SharedServerSettings)
    order_backend: OrderBackendSettings = Field(default_factory=OrderBackendSettings)
    guard: LedgerSettings = Field(default_factory=LedgerSettings)
