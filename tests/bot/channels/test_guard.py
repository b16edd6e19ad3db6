"""The checks every channel shares, on real servers: body size, text that is not Unicode, the browser origin
(never judged by the `Host` header) and rate limits (in memory, or shared by replicas through the machine's Redis).

The Redis tests skip only where none runs; SHOPBOT_REQUIRE_SERVICES=1 turns a missing Redis into a failure.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import aiohttp
from aiohttp.test_utils import TestServer
from yarl import URL as Url

from bot.channels.rates import RateLimits
from bot.config import DialogueSettings, ServerSettings, Settings
from tests.bot.channels.conftest import run
from tests.support import REDIS_URL, bot_app, need, running_app

URL = "/webhooks/rest/webhook"


def test_a_body_over_the_limit_gets_a_json_too_large_error(serve) -> None:
    async def calls():
        async with serve() as server, aiohttp.ClientSession() as http:
            big = await http.post(server.make_url(URL), json={"sender": "big", "message": "x" * 70_000})
            return big.status, big.headers["Content-Type"], await big.text()

    status, content_type, body = run(calls())
    assert status == 413 and content_type.startswith("application/json"), (status, content_type, body)
    assert '"code": "too_large"' in body


def test_text_that_is_not_unicode_is_refused_with_a_clear_error(serve) -> None:
    async def calls():
        async with serve() as server, aiohttp.ClientSession() as http:
            out = []
            for body in ('{"sender": "s1", "message": "hi \\ud800"}', '{"sender": "\\udfff", "message": "hi"}'):
                response = await http.post(server.make_url(URL), data=body,
                                           headers={"Content-Type": "application/json"})
                out.append((response.status, await response.json()))
            after = await http.post(server.make_url(URL), json={"sender": "s1", "message": "/help"})
            return out, after.status

    (text, sender), after = run(calls())
    assert text[0] == 400 and text[1]["code"] == "invalid_message" and "Unicode" in text[1]["detail"], text
    assert sender[0] == 400 and sender[1]["code"] == "invalid_message", sender
    assert after == 200  # the conversation is not broken by it


def test_the_origin_check_never_trusts_the_host_header(serve) -> None:
    """A DNS-rebinding page at attacker.example (resolving to this server) sends Host and Origin alike."""

    async def calls(**options):
        async with serve(**options) as server, aiohttp.ClientSession() as http:
            port = server.port
            out = {}
            for origin in (f"http://attacker.example:{port}", f"http://127.0.0.1:{port}", f"http://localhost:{port}",
                           f"http://[::1]:{port}", "https://shop.example", f"http://localhost:{port + 1}"):
                host = origin.split("://", 1)[1]
                response = await http.post(server.make_url(URL), json={"sender": f"o{len(out)}", "message": "/help"},
                                           headers={"Origin": origin, "Host": host})
                out[origin.replace(str(port), "PORT").replace(str(port + 1), "OTHER")] = response.status
            websocket = await http.get(server.make_url("/ws"), headers={"Origin": f"http://attacker.example:{port}",
                                                                        "Host": f"attacker.example:{port}"})
            out["ws rebinding"] = websocket.status
            return out

    local = run(calls())
    assert local == {"http://attacker.example:PORT": 403, "http://127.0.0.1:PORT": 200, "http://localhost:PORT": 200,
                     "http://[::1]:PORT": 200, "https://shop.example": 403, "http://localhost:OTHER": 403,
                     "ws rebinding": 403}, local
    public = run(calls(public_url="https://shop.example/chat", cors_origins=["https://blog.example"]))
    assert public["https://shop.example"] == 200 and public["http://localhost:PORT"] == 403, public
    assert public["http://attacker.example:PORT"] == 403


def test_rest_messages_are_rate_limited_per_sender(serve) -> None:
    async def calls():
        async with serve(messages_per_minute=2) as server, aiohttp.ClientSession() as http:
            out = []
            for sender in ("r", "r", "r", "other"):
                response = await http.post(server.make_url(URL), json={"sender": sender, "message": "/help"})
                out.append((response.status, await response.json()))
            return out

    replies = run(calls())
    assert [status for status, _ in replies] == [200, 200, 429, 200]
    assert replies[2][1]["code"] == "rate_limited"


@asynccontextmanager
async def replicas(make_engine, demo_store, count: int, **options) -> AsyncIterator[list[TestServer]]:
    """`count` servers (each its own engine, as separate processes would be) on one Redis."""
    async with AsyncExitStack() as stack:
        servers = []
        for _ in range(count):
            settings = Settings(server=ServerSettings(**options), dialogue=DialogueSettings(redis_url=REDIS_URL))
            servers.append(await stack.enter_async_context(running_app(bot_app(make_engine(), demo_store, settings))))
        yield servers


def test_replicas_share_the_rate_limits_through_redis(make_engine, demo_store) -> None:
    need(6379, "Redis")
    sender = f"shared-{uuid.uuid4().hex}"

    async def calls():
        async with replicas(make_engine, demo_store, 2, messages_per_minute=3) as (a, b), \
                aiohttp.ClientSession() as http:
            statuses = []
            for server in (a, b, a, b, a):  # a load balancer alternating between two processes
                response = await http.post(server.make_url(URL), json={"sender": sender, "message": "/help"})
                statuses.append(response.status)
            return statuses

    assert run(calls()) == [200, 200, 200, 429, 429]


def test_a_failing_redis_still_limits_each_process() -> None:
    async def hits():
        limits = RateLimits(2, 100, "redis://127.0.0.1:1/0")  # nothing listens on port 1
        try:
            return limits.backend, [await limits.allow("s", "ip") for _ in range(3)]
        finally:
            await limits.close()

    assert run(hits()) == ("redis", [True, True, False])


def test_many_senders_do_not_share_a_window() -> None:
    async def hits():
        limits = RateLimits(1, 1_000_000)
        first = [await limits.allow(f"sender-{i}", "ip") for i in range(12_000)]
        again = [await limits.allow(f"sender-{i}", "ip") for i in (0, 11_999)]
        return all(first), again

    assert run(hits()) == (True, [False, False])


def test_odd_bytes_in_a_token_or_secret_get_401_not_500(serve) -> None:
    async def calls():
        async with serve(auth_token="t0k") as server:
            reader, writer = await asyncio.open_connection(server.host, server.port)
            body = b'{"sender": "odd", "message": "hi"}'
            writer.write(b"POST " + URL.encode() + b" HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xed\xa0\x80\xff\r\n"
                         b"Content-Type: application/json\r\nContent-Length: " + str(len(body)).encode() +
                         b"\r\nConnection: close\r\n\r\n" + body)
            await writer.drain()
            status_line = await reader.readline()
            writer.close()
            async with aiohttp.ClientSession() as http:
                query = await http.post(encoded_url(server, "?token=%ED%A0%80%FF"),
                                        json={"sender": "odd", "message": "hi"})
            return status_line, query.status

    status_line, query = run(calls())
    assert status_line.split()[1] == b"401" and query == 401, (status_line, query)


def encoded_url(server: TestServer, query: str) -> Url:
    """The REST URL with a query that is already percent-encoded (sent as written)."""
    return Url(str(server.make_url(URL)) + query, encoded=True)
