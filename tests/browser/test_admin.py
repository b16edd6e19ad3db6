"""The owner's `/admin` page in a real browser on a real server over replayed demo conversations: the token is
asked for (a wrong one is refused), then the figures, the inline SVG charts and the unanswered questions show, with
no shopper's email or phone; and the widget's thumbs up at the end of a chat reaches the page's CSAT. A screenshot
of the page is saved (SHOPBOT_SCREENSHOTS keeps it) and checked for the charts' colours."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.browser.test_widgets import GREEN, has_colour, type_and_send
from tests.support import app_in_thread, demo_backend, free_port, own_recommender

TOKEN = "owner-secret-0123456789"
CONVERSATIONS = 150


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where screenshots go: SHOPBOT_SCREENSHOTS when set (to keep them), else the test's temporary folder."""
    folder = Path(os.environ.get("SHOPBOT_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def admin_server(demo_store, demo_parser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The whole app with an admin token over a conversation store already holding a replay of demo chats."""
    from actions.services import set_backend
    from benchmarks.analytics.replay_demo import memoise_models, replay
    from bot.analytics.feedback import FeedbackIntake
    from bot.app import build_bot
    from bot.channels.guard import ChannelGuard
    from bot.config import ServerSettings, Settings
    from bot.dialogue.store import ConversationStore
    from bot.responder.responder import Responder
    from bot.server import create_app

    folder = tmp_path_factory.mktemp("admin")
    database = folder / "conversations.db"
    port = free_port()
    settings = Settings(server=ServerSettings(port=port, admin_token=TOKEN), data_dir=folder / "data")
    with own_recommender():
        set_backend(demo_backend())
        store = ConversationStore(database)
        engine = build_bot(settings, demo_store, Responder(None), demo_parser, store).engine
        memoise_models(engine)
        record = FeedbackIntake(engine, ChannelGuard(settings.server)).record
        with ThreadPoolExecutor(1) as thread:   # a loop of its own: the browser's sync API holds this thread's
            thread.submit(asyncio.run, replay(engine, record, CONVERSATIONS, seed=11)).result()
        store.close()

        def make_app():
            return create_app(build_bot(settings, demo_store, Responder(None), demo_parser,
                                        ConversationStore(database)), settings)

        with app_in_thread(make_app, port) as url:
            yield url, database
    set_backend(None)


@pytest.mark.slow
def test_the_admin_page_asks_for_the_token_then_shows_the_figures(browser, admin_server, shots: Path) -> None:
    url, _ = admin_server
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(url + "/admin")
    page.wait_for_selector("#login:not([hidden])")
    assert page.locator("#report").is_hidden() and page.locator("svg").count() == 0
    page.fill("#token", "not-the-token-at-all")
    page.press("#token", "Enter")
    page.wait_for_selector("#login-error:has-text('not right')")
    page.fill("#token", TOKEN)
    page.press("#token", "Enter")
    page.wait_for_selector("body[data-loaded='1']")
    tiles = page.locator(".tile").all_inner_texts()
    assert any(f"{CONVERSATIONS}\nconversations" in t for t in tiles), tiles
    assert page.locator("#report svg[role='img']").count() >= 6
    assert page.locator("#chart-intents_by_day rect").count() > 20
    assert page.locator("#questions tr").count() >= 3
    text = page.inner_text("body")
    assert "@example" not in text and "555-0142" not in text and "replay-" not in text
    assert "[email]" in text or "[phone]" in text   # a redacted question is among those shown
    assert all(r.startswith(url) for r in requests)  # nothing from anywhere else: no CDN, no fonts
    assert not [e for e in errors if "Content Security Policy" in e]
    assert TOKEN not in page.url                      # the token never sits in the address
    shot = shots / "admin.png"
    page.screenshot(path=str(shot), full_page=True)
    context.close()
    assert has_colour(shot, GREEN, 2000) and has_colour(shot, (61, 143, 209), 500)   # resolved bar, intent bars


def thumbs_up(url: str) -> int:
    request = urllib.request.Request(url + "/admin/api/report", headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["figures"]["csat"]["up"]


@pytest.mark.slow
def test_the_widget_asks_for_a_thumbs_up_when_a_chat_ends_and_the_page_counts_it(browser, admin_server) -> None:
    url, database = admin_server
    ups = thumbs_up(url)
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.goto(url + "/")
    page.click("#shopbot-bubble")
    page.wait_for_selector("#shopbot-status:has-text('online')")
    assert page.locator("#shopbot-rate").count() == 0
    type_and_send(page, "#shopbot-input", "do you ship to Canada?")
    page.wait_for_selector(".sb-sources")
    page.click("#shopbot-bubble")                    # the shopper closes the chat
    page.wait_for_selector("#shopbot-rate:has-text('How was this chat?')")
    socket_frames: list[str] = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda f: socket_frames.append(f)))
    page.click("#shopbot-rate button[data-rating='up']")
    page.wait_for_selector("#shopbot-rate:has-text('Thanks')")
    page.wait_for_function("() => !document.getElementById('shopbot-rate')", timeout=10_000)
    page.click("#shopbot-bubble")
    page.click("#shopbot-bubble")                    # closed again: asked once per session
    page.wait_for_timeout(300)
    assert page.locator("#shopbot-rate").count() == 0
    session = page.evaluate("() => JSON.parse(sessionStorage.getItem('shopbot-session:' + location.host)).id")

    admin = context.new_page()
    admin.goto(url + "/admin#token=" + TOKEN)        # the fragment: never sent to the server
    admin.wait_for_selector("body[data-loaded='1']")
    assert TOKEN not in admin.url
    tile = admin.locator(".tile:has-text('CSAT')").inner_text()
    context.close()
    assert tile.split("\n")[-1].startswith(f"{ups + 1:,} up, ") and thumbs_up(url) == ups + 1
    connection = sqlite3.connect(database)
    try:
        rows = [json.loads(d) for (d,) in connection.execute(
            "SELECT data FROM events WHERE conversation_id = ? AND type = 'csat'", (f"web:{session}",))]
    finally:
        connection.close()
    assert [(r["rating"], r["channel"]) for r in rows] == [("up", "web")]
