"""A return on a four-item order end to end on a real server: the item question, the confirmation, the return, and
its label link, which serves a real PDF (`GET /returns/labels/{return_id}/{token}.pdf`) to whoever holds the link and
a 404 to anyone guessing (other return ids, another return's token, no token). Then the conversation attacks through
the real engine: a "yes" replayed, or sent from another channel or a later session, opens nothing."""

from __future__ import annotations

import asyncio
import io
import json
import re
import secrets

import aiohttp
from pypdf import PdfReader

from bot.messages import Inbound
from tests.bot.channels.conftest import run

URL = "/webhooks/rest/webhook"
START = '/return_item{"order_id": "10441", "email": "freya.campbell@example.com"}'
LINK = re.compile(r"(?:https?://[^/\s]+)?/returns/labels/(R\d+-[0-9A-F]{4})/([A-Za-z0-9_-]{32})\.pdf")


async def say(http: aiohttp.ClientSession, server, sender: str, message: str) -> list[dict]:
    response = await http.post(server.make_url(URL), json={"sender": sender, "message": message})
    assert response.status == 200
    return await response.json()


def texts(replies: list[dict]) -> str:
    return " ".join(r.get("text") or "" for r in replies)


async def open_return(http: aiohttp.ClientSession, server, sender: str, answer: str) -> tuple[list, list, list]:
    asked = await say(http, server, sender, START)
    confirm = await say(http, server, sender, answer)
    done = await say(http, server, sender, "/affirm")
    return asked, confirm, done


def test_the_return_is_asked_confirmed_opened_and_its_label_served(serve, demo_orders) -> None:
    async def chat():
        async with serve() as server, aiohttp.ClientSession() as http:
            asked, confirm, done = await open_return(http, server, "freya", "the boots")
            path = LINK.search(texts(done)).group(0)
            label = await http.get(server.make_url(path))
            return asked, confirm, done, path, label.status, dict(label.headers), await label.read()

    asked, confirm, done, path, status, headers, body = run(chat())
    assert "Which item from order 10441 would you like to return?" in texts(asked)
    assert [b["title"] for b in asked[0]["buttons"]][-1] == "All of them" and len(asked[0]["buttons"]) == 5
    assert texts(confirm) == "Return the Northwind Winter Boot (size 10.5) ×2 from order 10441 for a refund?"
    assert "is open for the Northwind Winter Boot" in texts(done) and path.startswith("/returns/labels/R10441-")
    [opened] = demo_orders.returns_for("10441")
    assert [i["title"] for i in opened["items"]] == ["Northwind Winter Boot"] and opened["label_url"] == path
    assert status == 200 and headers["Content-Type"] == "application/pdf"
    assert "no-store" in headers["Cache-Control"] and headers["Referrer-Policy"] == "no-referrer"
    assert headers["Content-Disposition"] == f'inline; filename="{opened["return_id"]}.pdf"'
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(body), strict=True).pages)
    for wanted in (f"RETURN {opened['return_id']}", "Order 10441", "Northwind Winter Boot (size 10.5) ×2",
                   "Pinecrest Outfitters Returns", "1200 NW Marshall St", "7 Marchmont Crescent"):
        assert wanted in text, wanted


def test_guessed_ids_another_returns_token_and_no_token_all_get_a_404(serve, demo_orders) -> None:
    async def attack():
        async with serve() as server, aiohttp.ClientSession() as http:
            _, _, mine = await open_return(http, server, "freya", "2")
            _, _, theirs = await open_return(http, server, "freya-2", "the boots")
            my_id, my_token = LINK.search(texts(mine)).groups()
            their_id, their_token = LINK.search(texts(theirs)).groups()
            paths = [f"/returns/labels/{my_id}/{their_token}.pdf",          # my return, their token
                     f"/returns/labels/{their_id}/{my_token}.pdf",          # their return, my token
                     f"/returns/labels/{my_id}.pdf",                        # no token at all
                     f"/returns/labels/{my_id}/.pdf",
                     f"/returns/labels/{my_id}/{my_token[:-1]}.pdf",        # one character short
                     f"/returns/labels/{my_id}/{my_token}",                 # no .pdf
                     f"/returns/labels/{my_id.lower()}/{my_token}.pdf",
                     f"/returns/labels/{my_id}/{my_token}.pdf/../{their_token}.pdf",
                     f"/returns/labels/{my_id}/{secrets.token_urlsafe(24)}.pdf"]
            guesses = [f"R10441-{n:04X}" for n in range(0, 0x10000, 509)] + \
                [f"R{n}-{my_id[-4:]}" for n in range(10400, 10480)]               # enumerating ids with my token
            paths += [f"/returns/labels/{guess}/{my_token}.pdf" for guess in guesses if guess != my_id]
            statuses = {}
            for path in paths:
                statuses[path] = (await http.get(server.make_url(path))).status
            wrong_token = await (await http.get(server.make_url(paths[0]))).text()
            no_such_id = await (await http.get(server.make_url(f"/returns/labels/R99999-0000/{my_token}.pdf"))).text()
            bodies = {wrong_token, no_such_id}  # a known id with a wrong token answers like an id that does not exist
            mine_ok = await http.get(server.make_url(f"/returns/labels/{my_id}/{my_token}.pdf"))
            theirs_ok = await http.get(server.make_url(f"/returns/labels/{their_id}/{their_token}.pdf"))
            return statuses, bodies, mine_ok.status, await theirs_ok.read(), their_id, my_id

    statuses, bodies, mine_ok, theirs_pdf, their_id, my_id = run(attack())
    assert set(statuses.values()) == {404}, {p: s for p, s in statuses.items() if s != 404}
    assert len(bodies) == 1 and "no such label" in bodies.pop()
    assert mine_ok == 200 and theirs_pdf.startswith(b"%PDF-") and their_id.encode() in theirs_pdf
    assert my_id.encode() not in theirs_pdf


def test_the_link_is_absolute_when_the_public_url_is_set(serve) -> None:
    async def chat():
        async with serve(public_url="https://chat.pinecrest.example") as server, aiohttp.ClientSession() as http:
            _, _, done = await open_return(http, server, "freya", "1")
            return done

    done = run(chat())
    link = LINK.search(texts(done)).group(0)
    assert link.startswith("https://chat.pinecrest.example/returns/labels/R10441-")
    [data] = [r["custom"]["return"] for r in done if "return" in (r.get("custom") or {})]
    assert data["label_url"] == link and data["order_id"] == "10441"


def test_a_yes_replayed_or_from_another_channel_or_session_opens_nothing(make_engine, demo_orders) -> None:
    engine = make_engine()
    clock = iter(range(1_790_000_000, 1_790_100_000, 60))

    async def say_to(sender: str, text: str, channel: str = "web", message_id: str | None = None,
                     later_s: float = 0) -> str:
        inbound = Inbound(sender, text, channel, message_id=message_id, timestamp=next(clock) + later_s)
        return " ".join(o.text for o in [o async for o in engine.handle(inbound)] if o.type == "message")

    async def conversations():
        asked = await say_to("shopper", START)
        confirm = await say_to("shopper", "2")
        other_channel = await say_to("shopper", "/affirm", channel="telegram")  # same sender id, another channel
        other_sender = await say_to("stranger", "/affirm")
        after_an_hour = await say_to("shopper", "/affirm", later_s=90 * 60)     # a new session: no pending yes
        opened_after = list(demo_orders.returns_for("10441"))
        await say_to("shopper2", START)
        unclear = await say_to("shopper2", "hmm, the blue thing?")
        await say_to("shopper2", "the tights")
        done = await say_to("shopper2", "/affirm", message_id="yes-1")
        resent = await say_to("shopper2", "/affirm", message_id="yes-1")       # the platform resends the message
        again = await say_to("shopper2", "/affirm", message_id="yes-2")        # the shopper taps "yes" again
        return asked, confirm, other_channel, other_sender, after_an_hour, opened_after, unclear, done, resent, again

    asked, confirm, other_channel, other_sender, after_an_hour, opened_after, unclear, done, resent, again = \
        asyncio.run(conversations())
    assert "couldn't tell which item" in unclear and "1. Northwind Winter Boot" in unclear
    assert "Which item would you like to return?" in unclear  # the form asks again
    assert "Which item" in asked and confirm == "Return the Waypoint Low (size 10.5) from order 10441 for a refund?"
    for reply in (other_channel, other_sender, after_an_hour):
        assert "Return R" not in reply and "10441" not in reply
    assert opened_after == []
    assert "is open for the Rally Tight" in done and resent == "" and "Return R" not in again
    assert [[i["title"] for i in r["items"]] for r in demo_orders.returns_for("10441")] == [["Rally Tight"]]
    assert json.dumps(demo_orders.returns_for("10441")).count("R10441-") >= 1
