"""A real aiohttp server on a free port over the demo store's engine (no NLU: payloads and retrieval)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from bot.config import ServerSettings, Settings
from bot.dialogue.store import ConversationStore
from tests.support import bot_app, running_app


@pytest.fixture
def serve(make_engine, demo_store, tmp_path: Path) -> Callable[..., AsyncIterator[TestServer]]:
    """`async with serve(**server_settings) as server:` a running server; `server.make_url("/ws")`. The test may
    choose the conversation store, the data folder (where the session key is kept; default a temporary one) and a
    failure the engine's next turn raises (`handle_fails`)."""

    @asynccontextmanager
    async def running(store: ConversationStore | None = None, data_dir: Path | None = None,
                      handle_fails: Exception | None = None, **options) -> AsyncIterator[TestServer]:
        engine = make_engine(store=store)
        if handle_fails is not None:
            engine.handle = failing_once(engine.handle, handle_fails)
        settings = Settings(server=ServerSettings(**options), data_dir=data_dir or tmp_path / "data")
        async with running_app(bot_app(engine, demo_store, settings)) as server:
            yield server

    return running


def failing_once(handle, failure: Exception):
    """The engine's `handle`, except that its next turn raises `failure` out of the engine (as a lock service or
    database error did before the engine caught them itself)."""
    pending = [failure]

    async def handle_or_fail(inbound):
        if pending:
            raise pending.pop()
        async for event in handle(inbound):
            yield event

    return handle_or_fail


def run(coroutine):
    return asyncio.run(coroutine)
