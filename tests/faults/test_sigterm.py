"""SIGTERM to `shopbot serve` with turns in flight (finding 10): it stops listening, lets every turn finish, delivers
and saves its reply, refuses messages that come after, closes /ws with 1001 and exits 0.

The turns are held in flight for real: they wait on an action server that is stopped (SIGSTOP) until the server has
stopped listening, then resumed (SIGCONT)."""

from __future__ import annotations

import asyncio
import re
import signal
from pathlib import Path

import aiohttp
import pytest

from tests.faults.harness import ShopbotServer, demo_pairs, order_backend, turns
from tests.support import ActionServer

pytestmark = pytest.mark.timeout(900)
SOCKETS, REST = 4, 2


async def turns_started(base: str, channel: str) -> float:
    async with aiohttp.ClientSession() as http, http.get(base + "/metrics") as response:
        text = await response.text()
    match = re.search(rf'^shopbot_turns_total{{channel="{channel}"}} (\S+)$', text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def test_sigterm_lets_turns_in_flight_finish_be_delivered_and_saved(tmp_path: Path) -> None:
    actions = ActionServer(tmp_path / "actions", order_backend(tmp_path / "store.db"))
    actions.start()
    server = ShopbotServer(tmp_path, config={
        "dialogue": {"action_server_url": actions.url, "action_timeout_s": 300, "action_attempts": 1},
        "server": {"shutdown_timeout_s": 300}})  # deadlines for a hung run only: the stall ends on an event
    pairs = demo_pairs(SOCKETS + REST)

    async def scenario():
        async with aiohttp.ClientSession() as http:
            sockets, sessions = [], []
            for _ in range(SOCKETS):
                ws = await http.ws_connect(server.base.replace("http", "ws") + "/ws")
                hello = await ws.receive_json()
                sockets.append(ws)
                sessions.append(hello["session_id"])
            actions.signal(signal.SIGSTOP)
            for number, ws in enumerate(sockets):
                order, email = pairs[number]
                await ws.send_json({"type": "message", "message_id": f"m-{number}",
                                    "text": f'/order_status{{"order_id": "{order}", "email": "{email}"}}'})
            rest = [asyncio.create_task(http.post(
                server.base + "/webhooks/rest/webhook",
                json={"sender": f"r{number}", "metadata": {"message_id": f"r-{number}"},
                      "message": f'/order_status{{"order_id": "{pairs[SOCKETS + number][0]}", '
                                 f'"email": "{pairs[SOCKETS + number][1]}"}}'})) for number in range(REST)]
            while await turns_started(server.base, "web") < SOCKETS or await turns_started(server.base, "rest") < REST:
                await asyncio.sleep(0.05)   # every turn is now waiting on the stopped action server
            server.process.send_signal(signal.SIGTERM)
            while await asyncio.to_thread(server.listening):
                await asyncio.sleep(0.05)   # stopped listening: the shutdown has begun
            assert server.process.poll() is None
            await sockets[0].send_json({"type": "message", "message_id": "late", "text": "/greet"})
            actions.signal(signal.SIGCONT)
            frames = []
            for ws in sockets:
                got = []
                async for frame in ws:
                    if frame.type == aiohttp.WSMsgType.TEXT:
                        got.append(frame.json())
                frames.append((got, ws.close_code))
            replies = []
            for task in rest:
                response = await task
                replies.append((response.status, await response.json()))
            return sessions, frames, replies

    try:
        server.start()
        sessions, frames, replies = asyncio.run(scenario())
        exit_code = server.process.wait(120)
    finally:
        if server.process is not None and server.process.poll() is None:
            server.process.kill()
        actions.stop()
    assert exit_code == 0
    stored = server.events()
    for number, (got, close_code) in enumerate(frames):
        order = pairs[number][0]
        messages = [f for f in got if f["type"] == "message" and f.get("message_id") == f"m-{number}"]
        assert messages and f"Order {order}" in " ".join(m["text"] for m in messages), got
        assert close_code == 1001
        turn = next(t for t in turns(stored[f"web:{sessions[number]}"]) if t["message_id"] == f"m-{number}")
        assert turn["complete"] and all(m["text"] in turn["bot"] for m in messages)
    late = [f for f in frames[0][0] if f.get("message_id") == "late"]
    assert [(f["type"], f.get("code")) for f in late] == [("error", "unavailable")], frames[0]  # refused: stopping
    for number, (status, messages) in enumerate(replies):
        order = pairs[SOCKETS + number][0]
        assert status == 200 and f"Order {order}" in " ".join(m.get("text") or "" for m in messages), messages
        assert turns(stored[f"rest:r{number}"])[-1]["complete"]
