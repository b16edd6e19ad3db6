"""The agent console's API with a shopper on /ws, and the storefront, widget and image routes."""

from __future__ import annotations

import aiohttp

from tests.bot.channels.conftest import run
from tests.bot.channels.test_websocket import until_final


def test_a_handed_off_shopper_hears_the_agent_and_gets_the_bot_back(serve) -> None:
    async def chat():
        async with serve(agent_token="agent-key") as server, aiohttp.ClientSession() as http:
            agent = {"Authorization": "Bearer agent-key"}
            api = server.make_url("/agent/api/conversations")
            async with http.ws_connect(server.make_url("/ws")) as ws:
                session = (await ws.receive_json())["session_id"]
                await ws.send_json({"type": "message", "text": "/human_handoff"})
                handed = await until_final(ws)
                handed.append(await ws.receive_json())  # the handoff event after the action's message
                await ws.send_json({"type": "message", "text": "my parcel never came"})
                waiting = await until_final(ws)
                listed = await (await http.get(api, headers=agent)).json()
                refused = await http.get(api, headers={"Authorization": "Bearer wrong"})
                conversation = f"web:{session}"
                transcript = await (await http.get(f"{api}/{conversation}", headers=agent)).json()
                sent = await http.post(f"{api}/{conversation}/messages", json={"text": "Hi, Sam here."}, headers=agent)
                from_agent = await ws.receive_json(timeout=10)
                await http.post(f"{api}/{conversation}/resume", headers=agent)
                back = await ws.receive_json(timeout=10)
                after = await (await http.get(api, headers=agent)).json()
                late = await http.post(f"{api}/{conversation}/messages", json={"text": "still there?"}, headers=agent)
                return (session, handed, waiting, listed, refused.status, transcript, sent.status, from_agent, back,
                        after, late.status)

    (session, handed, waiting, listed, refused, transcript, sent, from_agent, back, after, late) = run(chat())
    assert [f["type"] for f in handed][-1] == "handoff" and waiting[-1]["type"] == "handoff"
    assert [c["id"] for c in listed] == [f"web:{session}"] and listed[0]["last_text"] == "my parcel never came"
    assert refused == 401 and transcript["paused"] is True
    assert transcript["messages"][-1] == {"role": "user", "text": "my parcel never came"}
    assert sent == 200 and from_agent["type"] == "message" and from_agent["text"] == "Hi, Sam here."
    assert from_agent["data"] == {"agent": "agent"}
    assert "back with the assistant" in back["text"] and after == [] and late == 409


def test_storefront_widget_and_images(serve) -> None:
    async def pages():
        async with serve() as server, aiohttp.ClientSession() as http:
            front = await http.get(server.make_url("/"))
            widget = await http.get(server.make_url("/widget.js"))
            image = await http.get(server.make_url("/images/P1001.svg"))
            escape = await http.get(server.make_url("/images/../catalog.jsonl"))
            agent = await http.get(server.make_url("/agent"))
            return (front.status, await front.text(), widget.status, widget.headers["Content-Type"],
                    await widget.text(), image.status, escape.status, agent.status)

    status, html, widget_status, widget_type, widget, image, escape, agent = run(pages())
    assert status == 200 and "Tern Road Runner 3" in html and '<script src="/widget.js"' in html
    assert html.count('class="product"') == 334
    assert widget_status == 200 and widget_type.startswith("application/javascript") and "new WebSocket" in widget
    assert image == 200 and escape == 404 and agent == 200
