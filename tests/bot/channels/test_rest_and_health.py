"""Rasa's REST channel (plain and streamed), health, readiness and Prometheus metrics on a real server."""

from __future__ import annotations

import json

import aiohttp

from tests.bot.channels.conftest import run

URL = "/webhooks/rest/webhook"


def test_rest_channel_answers_like_rasa(serve) -> None:
    async def chat():
        async with serve() as server, aiohttp.ClientSession() as http:
            help_reply = await (await http.post(server.make_url(URL), json={"sender": "r1", "message": "/help"})).json()
            products = await (await http.post(server.make_url(URL),
                                              json={"sender": "r2", "message": "show me waterproof jackets"})).json()
            stream = await http.post(server.make_url(URL + "?stream=true"),
                                     json={"sender": "r3", "message": "do you ship to Canada?"})
            lines = [json.loads(line) for line in (await stream.text()).splitlines()]
            return help_reply, products, stream.headers["Content-Type"], lines

    help_reply, products, content_type, lines = run(chat())
    assert help_reply[0]["recipient_id"] == "r1" and help_reply[0]["buttons"][0]["payload"] == "/order_status"
    assert any("image" in m for m in products) and any(m.get("custom", {}).get("cards") for m in products)
    assert content_type.startswith("application/x-ndjson")
    assert "Canada" in lines[0]["text"] and lines[-1]["custom"]["sources"]


def test_bad_rest_requests_get_clear_errors(serve) -> None:
    async def calls():
        async with serve(auth_token="t0k") as server, aiohttp.ClientSession() as http:
            out = []
            for kwargs in ({"json": {"sender": "a", "message": "hi"}},
                           {"data": "{oops", "headers": {"Authorization": "Bearer t0k"}},
                           {"json": {"message": "hi"}, "headers": {"Authorization": "Bearer t0k"}},
                           {"json": {"sender": "a", "message": "hi"}, "headers": {"X-Shopbot-Token": "t0k"}}):
                response = await http.post(server.make_url(URL), **kwargs)
                out.append((response.status, await response.json()))
            return out

    (unauth, bad_json, no_sender, ok) = run(calls())
    assert unauth[0] == 401 and unauth[1]["code"] == "unauthorized"
    assert bad_json[0] == 400 and bad_json[1]["code"] == "invalid_json"
    assert no_sender[0] == 400 and no_sender[1]["code"] == "invalid_message"
    assert ok[0] == 200 and ok[1][0]["recipient_id"] == "a"


def test_health_ready_and_metrics(serve) -> None:
    async def calls():
        async with serve() as server, aiohttp.ClientSession() as http:
            await http.post(server.make_url(URL), json={"sender": "q", "message": "how long do refunds take?"})
            await http.post(server.make_url(URL), json={"sender": "m", "message": "/human_handoff"})
            health = await (await http.get(server.make_url("/health"))).json()
            ready = await (await http.get(server.make_url("/ready"))).json()
            metrics = await (await http.get(server.make_url("/metrics"))).text()
            return health, ready, metrics

    health, ready, metrics = run(calls())
    assert health == {"status": "ok"} and ready["status"] == "ready" and ready["store"] == "Pinecrest Outfitters"
    assert 'shopbot_turns_total{channel="rest"}' in metrics and "shopbot_turn_seconds_bucket" in metrics
    assert 'shopbot_intents_total{intent="human_handoff"}' in metrics and "shopbot_handoffs_total" in metrics
    assert 'shopbot_batch_size_count{model="embed"}' in metrics  # the question's embedding ran in a batch
    assert 'shopbot_batch_queue_seconds_bucket{le="0.001",model="embed"}' in metrics


def test_a_streamed_rest_turn_carries_its_error(serve) -> None:
    async def chat():
        async with serve() as server, aiohttp.ClientSession() as http:
            stream = await http.post(server.make_url(URL + "?stream=true"),
                                     json={"sender": "r4", "message": '/consent{"cookies": true}'})
            return [json.loads(line) for line in (await stream.text()).splitlines()]

    lines = run(chat())
    assert lines and lines[0]["custom"]["error"] == "invalid_consent" and "cookies" in lines[0]["text"]
