"""Two real `shopbot serve` replicas on a fresh PostgreSQL database and one Redis database, for the module."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.replicas import Replica, fresh_database, redis_database
from tests.integration.replicas import replicas as start_replicas
from tests.support import POSTGRES_URL, REDIS_URL, need


@pytest.fixture(scope="module")
def redis_url() -> str:
    need(6379, "Redis")
    return redis_database(REDIS_URL)


@pytest.fixture(scope="module")
def two_replicas(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Replica]]:
    """Replicas A and B: one database, one Redis, one session key; `SHOPBOT_AGENT_TOKEN` set."""
    need(5432, "PostgreSQL")
    folder: Path = tmp_path_factory.mktemp("replicas")
    config = folder / "shopbot.yml"
    config.write_text("server:\n  messages_per_minute: 12\n  ip_messages_per_minute: 1000\n", encoding="utf-8")
    with fresh_database(POSTGRES_URL) as database, \
            start_replicas(2, database, redis_url, folder, config=config,
                           env={"SHOPBOT_SESSION_KEY": os.urandom(24).hex(),
                                "SHOPBOT_GUARD_SECRET": os.urandom(24).hex()}) as started:   # fresh strike keys
        yield started
