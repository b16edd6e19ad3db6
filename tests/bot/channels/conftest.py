"""A real aiohttp server on a free port over the demo store's engine (no NLU: payloads and retrieval)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
from aiohttp.test_utils import TestServer

from bot.app import StoreBot
from bot.config import ServerSettings, Settings
from bot.responder.responder import Responder
from bot.server import create_app

@pytest.fixture
def serve(make_engine, demo_store) -> Callable[..., AsyncIterator[TestServer]]:
    """`async with serve(**server_settings) as server:` a running server; `server.make_url("/ws")`."""

    @asynccontextmanager
    async def running(**options) -> AsyncIterator[TestServer]:
        engine = make_engine()
        bot = StoreBot(engine, demo_store, Responder(None), None)
        settings = Settings(server=ServerSettings(**options))
        server = TestServer(create_app(bot, settings))
        await server.start_server()
        try:
            yield server
        finally:
            await server.close()

    return running


def run(coroutine):
    return asyncio.run(coroutine)
