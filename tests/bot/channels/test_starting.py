"""`shopbot serve` while its models load: a real aiohttp server around a `Startup` held back before its last step
(`Startup.hold`, a real parameter of the startup). /health answers at once, /ready is 503 naming what is loading
and 200 once ready; a websocket message sent before that gets a `starting` error, the socket stays open and is
served by the websocket channel afterwards; REST gets a 503 `starting` with Retry-After."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import aiohttp
import pytest

from bot.config import Settings
from bot.serving import follow_startup, starting_app, urls_banner
from bot.startup import Startup
from tests.support import own_recommender, running_app

pytestmark = pytest.mark.slow


def starting_settings(cache: Path, data: Path) -> Settings:
    """The demo store from the shared test cache (its index built there already), extractive replies."""
    return Settings(cache_dir=cache, data_dir=data, finetune={"enabled": False}, responder={"mode": "extractive"})


async def next_frame(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict:
    """The next frame of type `kind` (typing and chunk frames before it are skipped)."""
    while True:
        frame = await ws.receive_json(timeout=600)
        if frame["type"] == kind:
            return frame


def test_health_at_once_ready_later_and_a_socket_kept_across_the_start(demo_store, demo_cache_dir: Path,
                                                                       tmp_path: Path) -> None:
    settings = starting_settings(demo_cache_dir, tmp_path)
    hold = threading.Event()
    lines: list[str] = []
    startup = Startup(settings, hold=hold, echo=lines.append)
    app = starting_app(startup, settings)

    async def scenario() -> None:
        async with running_app(app) as server, aiohttp.ClientSession() as http:
            follow = asyncio.create_task(follow_startup(app))
            health = await http.get(server.make_url("/health"))
            assert health.status == 200 and (await health.json())["status"] == "ok"
            ready = await http.get(server.make_url("/ready"))
            report = await ready.json()
            assert ready.status == 503 and report["status"] == "starting" and ready.headers["Retry-After"]
            assert any(line.startswith("engine") for line in report["loading"]), report

            ws = await http.ws_connect(server.make_url("/ws"))
            hello = await ws.receive_json(timeout=60)
            assert hello["type"] == "starting" and hello["loading"]
            await ws.send_json({"type": "ping"})
            assert (await ws.receive_json(timeout=60))["type"] == "pong"
            await ws.send_json({"type": "message", "text": "do you ship to Canada?", "message_id": "early"})
            refused = await ws.receive_json(timeout=60)
            assert refused["type"] == "error" and refused["code"] == "starting" and refused["message_id"] == "early"
            assert "starting" in refused["detail"] and "Traceback" not in refused["detail"] and refused["loading"]
            assert not ws.closed

            rest = await http.post(server.make_url("/webhooks/rest/webhook"), json={"sender": "a", "message": "hi"})
            body = await rest.json()
            assert rest.status == 503 and body["code"] == "starting" and rest.headers["Retry-After"]
            page = await http.get(server.make_url("/"), headers={"Accept": "text/html"})
            assert page.status == 503 and "starting" in await page.text()

            hold.set()
            assert await follow, startup.failure
            ready = await http.get(server.make_url("/ready"))
            assert ready.status == 200 and (await ready.json())["status"] == "ready"
            assert (await (await http.get(server.make_url("/health"))).json()) == {"status": "ok"}

            session = await next_frame(ws, "session")   # the channel took the socket over
            assert session["session_id"] and not ws.closed
            await ws.send_json({"type": "message", "text": "do you ship to Canada?", "message_id": "later"})
            reply = await next_frame(ws, "message")
            assert reply["message_id"] == "later" and "Canada" in reply["text"]
            rest = await http.post(server.make_url("/webhooks/rest/webhook"),
                                   json={"sender": "a", "message": "do you ship to Canada?"})
            assert rest.status == 200 and any("Canada" in m.get("text", "") for m in await rest.json())
            await ws.close()

    with own_recommender():
        asyncio.run(scenario())
    assert startup.ready and startup.failure is None
    assert [line for line in lines if line.startswith("Started index")], lines
    assert set(startup.report()["steps"]) == {"knowledge base", "nlu", "index", "responder", "engine"}


def test_a_failed_step_is_reported_not_served(tmp_path: Path) -> None:
    settings = starting_settings(tmp_path / "cache", tmp_path / "data").model_copy(
        update={"kb_dir": tmp_path / "no-such-store"})
    startup = Startup(settings, echo=lambda line: None)
    app = starting_app(startup, settings)

    async def scenario() -> None:
        async with running_app(app) as server, aiohttp.ClientSession() as http:
            assert not await follow_startup(app)
            ready = await http.get(server.make_url("/ready"))
            report = await ready.json()
            assert ready.status == 503 and report["status"] == "unavailable"
            assert "knowledge base" in report["error"] and "no-such-store" in report["error"]

    asyncio.run(scenario())


def test_the_banner_says_where_everything_is_and_how_to_turn_the_agent_console_on() -> None:
    banner = urls_banner(Settings())
    assert banner.splitlines()[0].endswith(" http://127.0.0.1:5005/") and "http://127.0.0.1:5005/metrics" in banner
    assert "ws://127.0.0.1:5005/ws" in banner
    assert "/agent" in banner and "SHOPBOT_AGENT_TOKEN=" in banner
    on = urls_banner(Settings(server={"agent_token": "agent-key", "port": 6000}))
    assert "http://127.0.0.1:6000/agent" in on and "SHOPBOT_AGENT_TOKEN=" not in on
