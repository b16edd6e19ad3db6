"""Redis conversation locks when Redis is gone: a throwaway `redis-server` process that is stopped (SIGSTOP: it
accepts nothing and answers nothing) or killed, then brought back. The lock fails fast with `StateUnavailable`
instead of hanging or raising a bare connection error, `/ready` answers 503 naming Redis, and both recover."""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator

import aiohttp
import pytest

from bot.config import Settings
from bot.dialogue.errors import StateUnavailable
from bot.dialogue.locks import RedisLocks
from tests.support import bot_app, free_port, listening, running_app

GUARD_S = 30  # a hang guard, not a timing assertion: the old client waited minutes with Redis stopped


class ThrowawayRedis:
    """`redis-server --port N --save ''` that the test can stop, continue, kill and start again."""

    def __init__(self) -> None:
        if shutil.which("redis-server") is None:
            pytest.skip("no redis-server on this machine")
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(["redis-server", "--port", str(self.port), "--save", "", "--appendonly", "no",
                                         "--bind", "127.0.0.1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            if listening(self.port):
                return
            time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    def kill(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGCONT)
            self.process.kill()
            self.process.wait(10)
            self.process = None


@pytest.fixture
def redis_server() -> Iterator[ThrowawayRedis]:
    server = ThrowawayRedis()
    server.start()
    yield server
    server.kill()


async def _turn(locks: RedisLocks) -> str:
    async with locks.hold("test:shopper"):
        return "ran"


def test_redis_killed_fails_fast_and_recovers(redis_server: ThrowawayRedis) -> None:
    async def run() -> None:
        locks = RedisLocks(redis_server.url, prefix="test:lock:")
        try:
            assert await _turn(locks) == "ran"
            redis_server.kill()
            with pytest.raises(StateUnavailable, match="Redis"):
                await asyncio.wait_for(_turn(locks), GUARD_S)
            with pytest.raises(StateUnavailable):
                await asyncio.wait_for(locks.ping(), GUARD_S)
            redis_server.start()
            assert await asyncio.wait_for(_turn(locks), GUARD_S) == "ran"
            await locks.ping()
        finally:
            await locks.close()

    asyncio.run(run())


def test_redis_stopped_does_not_hang_a_turn(redis_server: ThrowawayRedis) -> None:
    """SIGSTOP: connections are accepted by the kernel but never answered (what hung `/ws` turns)."""
    async def run() -> None:
        locks = RedisLocks(redis_server.url, prefix="test:lock:")
        try:
            assert await _turn(locks) == "ran"
            redis_server.process.send_signal(signal.SIGSTOP)
            with pytest.raises(StateUnavailable):
                await asyncio.wait_for(_turn(locks), GUARD_S)
            redis_server.process.send_signal(signal.SIGCONT)
            assert await asyncio.wait_for(_turn(locks), GUARD_S) == "ran"  # not held by the attempt that timed out
        finally:
            await locks.close()

    asyncio.run(run())


def test_nothing_listening_is_unavailable() -> None:
    port = free_port()

    async def run() -> None:
        locks = RedisLocks(f"redis://127.0.0.1:{port}/0")
        try:
            with pytest.raises(StateUnavailable):
                await asyncio.wait_for(_turn(locks), GUARD_S)
        finally:
            await locks.close()

    asyncio.run(run())


def test_ready_reports_redis_and_recovers(redis_server: ThrowawayRedis, make_engine, demo_store) -> None:
    async def run() -> list[tuple[int, dict]]:
        engine = make_engine()
        engine.locks = RedisLocks(redis_server.url, prefix="test:lock:")
        answers = []
        async with running_app(bot_app(engine, demo_store, Settings())) as server, aiohttp.ClientSession() as http:
            async def ready() -> None:
                response = await http.get(server.make_url("/ready"))
                answers.append((response.status, await response.json()))

            await ready()
            redis_server.kill()
            await ready()
            redis_server.start()
            await ready()
        return answers

    (up, down, back) = asyncio.run(run())
    assert up[0] == 200 and up[1]["status"] == "ready" and up[1]["redis"] == "ok" and up[1]["database"] == "ok"
    assert down[0] == 503 and down[1]["status"] == "unavailable" and down[1]["redis"] == "down"
    assert down[1]["database"] == "ok"
    assert back[0] == 200 and back[1]["redis"] == "ok"
