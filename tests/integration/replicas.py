"""Real `shopbot serve` processes for the replica tests and benchmark: a fresh PostgreSQL database each run, one
Redis database, free ports, the demo store from the test cache, extractive replies, and an agent token.

    with fresh_database(POSTGRES_URL) as database, replicas(2, database, REDIS_URL, logs) as (a, b):
        ...  # a.url, b.url
"""

from __future__ import annotations

import re
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support import POSTGRES_URL, REDIS_URL, free_port, serve_env, start_serve, wait_http

AGENT_TOKEN = "replica-agent-key"
START_DEADLINE_S = 420.0   # a first run on a cold cache builds the demo index
INDEX_READY = re.compile(r"(; index (loaded|built) in |Started index in )")


@contextmanager
def fresh_database(admin_url: str = POSTGRES_URL) -> Iterator[str]:
    """A new PostgreSQL database `shopbot_replicas_<random>` on the server of `admin_url`, dropped afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"shopbot_replicas_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def redis_database(base_url: str = REDIS_URL) -> str:
    """`base_url` on another Redis database (1-15, chosen at random), so the per-address rate limits and
    lock-outs of other tests on this Redis are unlikely to meet ours (nothing is flushed: others may share it)."""
    import random

    from redis.connection import parse_url

    parse_url(base_url)  # a clear error for a bad URL
    root = base_url.split("?", 1)[0]
    head, _, tail = root.rpartition("/")
    return f"{head if tail.isdigit() else root.rstrip('/')}/{random.randint(1, 15)}"


@dataclass
class Replica:
    url: str
    process: subprocess.Popen
    log: Path

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:]) if self.log.exists() else ""


def _wait_index(replica: Replica, deadline: float) -> None:
    """Wait until the replica has loaded (or built) the store's index, so the next one finds it in the cache."""
    while time.monotonic() < deadline and replica.process.poll() is None:
        if INDEX_READY.search(replica.log.read_text(errors="replace")):
            return
        time.sleep(0.2)


def _stop(started: list[Replica]) -> None:
    """SIGTERM to every replica at once (each drains its turns), SIGKILL for any still there after 40 s."""
    running = [r for r in started if r.process.poll() is None]
    for replica in running:
        replica.process.send_signal(signal.SIGTERM)
    for replica in running:
        try:
            replica.process.wait(40)
        except subprocess.TimeoutExpired:
            replica.process.kill()
            replica.process.wait(10)


@contextmanager
def replicas(count: int, database_url: str, redis_url: str, log_dir: Path, config: Path | None = None,
             env: dict[str, str] | None = None) -> Iterator[list[Replica]]:
    """`count` `shopbot serve` processes on one database and one Redis, each on its own free port; the others
    start once the first has its index (it builds the demo index if the cache lacks it)."""
    log_dir.mkdir(parents=True, exist_ok=True)
    base = serve_env(log_dir / "data", SHOPBOT_DATABASE_URL=database_url, SHOPBOT_REDIS_URL=redis_url,
                     SHOPBOT_AGENT_TOKEN=AGENT_TOKEN, **(env or {}))
    started: list[Replica] = []
    with ExitStack() as stack:
        stack.callback(_stop, started)

        def launch() -> Replica:
            port = free_port()
            log = log_dir / f"replica-{len(started)}-{port}.log"
            process = start_serve(port, log, base, config, cwd=log_dir)
            replica = Replica(f"http://127.0.0.1:{port}", process, log)
            started.append(replica)
            return replica

        deadline = time.monotonic() + START_DEADLINE_S
        first = launch()
        _wait_index(first, deadline)
        others = [launch() for _ in range(count - 1)]
        for replica in [first, *others]:
            wait_http(f"{replica.url}/ready", replica.process, replica.log, max(0.0, deadline - time.monotonic()))
        yield started
