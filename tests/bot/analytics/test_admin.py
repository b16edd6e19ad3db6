"""`/admin` and `/admin/api/report` attacked on a real server: off without a token; no token, a wrong one, the
channel's or the agent's token, the right one in the query string or another header, path and method tricks, a
bad period; the page holds no figure and only its own script runs; what the report shows holds no email, phone
number or conversation id, and an erased shopper is gone from it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest

from bot.config import ConfigError, ServerSettings, Settings
from bot.dialogue.store import ConversationStore
from bot.privacy.shopper import erase_shopper
from tests.bot.channels.conftest import run
from tests.support import bot_app, running_app

TOKEN = "owner-secret-0123456789"
REPORT = "/admin/api/report"
EMAIL, PHONE = "jane.doe@example.com", "415-555-0199"


@pytest.fixture
def serve(make_engine, demo_store, tmp_path: Path):
    """`async with serve(**server_settings) as (server, store, engine):` the whole app over a SQLite store."""

    @asynccontextmanager
    async def running(**options) -> AsyncIterator[tuple[object, ConversationStore, object]]:
        store = ConversationStore(tmp_path / "conversations.db")
        engine = make_engine(store=store)
        settings = Settings(server=ServerSettings(**options), data_dir=tmp_path / "data")
        try:
            async with running_app(bot_app(engine, demo_store, settings)) as server:
                yield server, store, engine
        finally:
            store.close()

    return running


async def chat(http: aiohttp.ClientSession, server, sender: str, *texts: str, token: str = "") -> None:
    for text in texts:
        async with http.post(server.make_url("/webhooks/rest/webhook"), json={"sender": sender, "message": text},
                             headers={"X-Shopbot-Token": token} if token else {}) as r:
            assert r.status == 200


async def get(http: aiohttp.ClientSession, server, path: str, **headers: str) -> tuple[int, dict | str]:
    async with http.get(server.make_url(path), headers=headers) as response:
        body = await response.text()
        try:
            return response.status, json.loads(body)
        except json.JSONDecodeError:
            return response.status, body


async def raw(server, target: str, method: str = "GET", headers: str = "") -> tuple[int, bytes]:
    """One request with the target sent exactly as written (no client normalising the path)."""
    reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(f"{method} {target} HTTP/1.1\r\nHost: {server.host}\r\n{headers}Connection: close\r\n\r\n".encode())
    await writer.drain()
    answer = await reader.read()
    writer.close()
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0
    return status, answer


def test_without_an_admin_token_the_page_and_the_api_are_off(serve) -> None:
    async def scenario():
        async with serve(agent_token="agent-key") as (server, _, _), aiohttp.ClientSession() as http:
            return (await get(http, server, "/admin"),
                    await get(http, server, REPORT, Authorization="Bearer "),
                    await get(http, server, REPORT, Authorization="Bearer agent-key"))

    page, empty, agent = run(scenario())
    assert page[0] == 404 and "admin_token" in page[1]
    assert empty[0] == agent[0] == 404 and empty[1]["code"] == agent[1]["code"] == "not_configured"


def test_a_short_admin_token_is_refused() -> None:
    with pytest.raises(ConfigError, match="admin_token"):
        Settings.load(None, server={"admin_token": "short"})


def test_the_api_takes_only_the_admin_token_in_the_authorization_header(serve) -> None:
    attempts = {
        "none": {},
        "empty": {"Authorization": "Bearer "},
        "wrong": {"Authorization": "Bearer owner-secret-0123456780"},
        "prefix": {"Authorization": "Bearer " + TOKEN[:-1]},
        "longer": {"Authorization": "Bearer " + TOKEN + "0"},
        "basic": {"Authorization": "Basic " + TOKEN},
        "bare": {"Authorization": TOKEN},
        "other header": {"X-Shopbot-Token": TOKEN},
        "cookie": {"Cookie": f"token={TOKEN}"},
        "channel token": {"Authorization": "Bearer chan-secret-0123456789"},
        "agent token": {"Authorization": "Bearer agent-key"},
        "not ascii": {"Authorization": "Bearer owner-secret-01234567\u00e9\u00e9"},
    }

    async def scenario():
        async with serve(admin_token=TOKEN, auth_token="chan-secret-0123456789", agent_token="agent-key") as \
                (server, _, _), aiohttp.ClientSession() as http:
            await chat(http, server, "s-1", "/greet", token="chan-secret-0123456789")
            refused = {name: await get(http, server, REPORT, **headers) for name, headers in attempts.items()}
            in_query = await get(http, server, f"{REPORT}?token={TOKEN}")
            granted = await get(http, server, REPORT, Authorization=f"Bearer {TOKEN}")
            lower = await get(http, server, REPORT, Authorization=f"bearer {TOKEN}")
            return refused, in_query, granted, lower

    refused, in_query, granted, lower = run(scenario())
    for name, (status, body) in refused.items():
        assert status == 401 and body["code"] == "unauthorized", name
        assert "figures" not in body, name
    assert in_query[0] == 401 and "Authorization header" in in_query[1]["detail"]
    assert granted[0] == 200 and granted[1]["figures"]["conversations"] == 1
    assert lower[0] == 200


@pytest.mark.parametrize("target", [
    "/admin/", "/ADMIN/api/report", "/Admin/api/report", "/admin/api/report/", "//admin/api/report",
    "/admin//api/report", "/admin/api/./report", "/admin/api/../api/report", "/admin/api/%2e%2e/api/report",
    "/admin/api/%2E%2E/api/report", "/admin/api/report%00", "/admin/api/report%2f", "/admin/api/report;.json",
    "/admin/api/report?since=../../../etc/passwd", "/admin/api/report#", "/admin/api/report/..%2freport",
    "/agent/../admin/api/report", "/static/..%2f..%2fadmin/api/report", "/admin/api/report?token=" + TOKEN,
])
def test_path_tricks_reach_no_figure_without_the_token(serve, target: str) -> None:
    async def scenario():
        async with serve(admin_token=TOKEN) as (server, _, _), aiohttp.ClientSession() as http:
            await chat(http, server, "s-1", "/greet")
            return await raw(server, target)

    status, answer = run(scenario())
    assert status in (400, 401, 404), answer[:200]
    assert b'"figures"' not in answer and b"conversations" not in answer


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "HEAD"])
def test_other_methods_reach_no_figure(serve, method: str) -> None:
    async def scenario():
        async with serve(admin_token=TOKEN) as (server, _, _):
            return await raw(server, REPORT, method, "Content-Length: 0\r\n")

    status, answer = run(scenario())
    assert status in (401, 405) and b'"figures"' not in answer


def test_the_page_holds_no_figure_and_runs_only_its_own_script(serve) -> None:
    async def scenario():
        async with serve(admin_token=TOKEN) as (server, _, _), aiohttp.ClientSession() as http:
            await chat(http, server, "s-1", f"my email is {EMAIL}, zxqv blorf?")
            async with http.get(server.make_url("/admin")) as response:
                return response.status, dict(response.headers), await response.text()

    status, headers, html = run(scenario())
    assert status == 200 and "<svg" not in html and "blorf" not in html and TOKEN not in html
    policy = headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src 'sha256-" in policy and "unsafe" not in policy
    assert "frame-ancestors 'none'" in policy and headers["X-Frame-Options"] == "DENY"
    assert headers["Cache-Control"] == "no-store" and headers["Referrer-Policy"] == "no-referrer"


def test_a_bad_period_is_refused_with_its_field(serve) -> None:
    async def scenario():
        async with serve(admin_token=TOKEN) as (server, _, _), aiohttp.ClientSession() as http:
            return (await get(http, server, f"{REPORT}?since=last-week", Authorization=f"Bearer {TOKEN}"),
                    await get(http, server, f"{REPORT}?since=2020-01-01&until=2020-01-02",
                              Authorization=f"Bearer {TOKEN}"))

    bad, empty = run(scenario())
    assert bad[0] == 400 and bad[1]["code"] == "invalid_period" and "since" in bad[1]["detail"]
    assert empty[0] == 200 and empty[1]["figures"]["conversations"] == 0


def test_the_report_shows_no_personal_data_and_forgets_an_erased_shopper(serve) -> None:
    async def scenario():
        async with serve(admin_token=TOKEN) as (server, store, engine), aiohttp.ClientSession() as http:
            await chat(http, server, "s-jane", f"hi, {EMAIL} here: wubba zxqv blorf?",
                       f"call me at {PHONE} about the wubba blorf", "/greet")
            await chat(http, server, "s-other", "qqzx vrrm blorf?", "/greet")
            before = await get(http, server, REPORT, Authorization=f"Bearer {TOKEN}")
            erased = await erase_shopper(store, EMAIL, engine.locks)
            after = await get(http, server, REPORT, Authorization=f"Bearer {TOKEN}")
            return before, erased, after

    before, erased, after = run(scenario())
    assert before[0] == after[0] == 200
    shown = json.dumps(before[1])
    assert before[1]["figures"]["conversations"] == 2 and before[1]["figures"]["unanswered"]["total"] >= 3
    assert "blorf" in shown                                   # the questions are there...
    assert EMAIL not in shown and "jane.doe" not in shown and PHONE not in shown and "555" not in shown
    assert "[email]" in shown and "[phone]" in shown          # ...redacted
    assert "s-jane" not in shown and "rest:" not in shown     # no conversation or sender id
    assert erased["conversations"] == 1
    assert after[1]["figures"]["conversations"] == 1
    assert "wubba" in shown and "wubba" not in json.dumps(after[1]) and "vrrm" in json.dumps(after[1])
