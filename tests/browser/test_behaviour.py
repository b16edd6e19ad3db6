"""Our widget's behaviour events in a real browser on a real server (opt_in, nudges after 1 s): nothing leaves the
page before the shopper says yes (not even a socket), `card_clicked` and the product page's view go out after,
and a product looked at long enough brings the one nudge, which opens the panel and takes a "No thanks"."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.test_widgets import type_and_send
from tests.support import app_in_thread, free_port, own_recommender

PRODUCT = "P1001"


@pytest.fixture(scope="module")
def nudging_server(demo_store, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The whole app (demo store, no NLU, extractive replies) with `behaviour` opt_in and nudges after 1 s."""
    from bot.app import build_bot
    from bot.config import ServerSettings, Settings
    from bot.dialogue.store import ConversationStore
    from bot.responder.responder import Responder
    from bot.server import create_app

    port = free_port()
    folder: Path = tmp_path_factory.mktemp("behaviour")
    settings = Settings(server=ServerSettings(port=port), data_dir=folder / "data",
                        nudges={"enabled": True, "after_seconds": 1})

    def make_app():
        store = ConversationStore(folder / "conversations.db")
        return create_app(build_bot(settings, demo_store, Responder(None), None, store), settings)

    with own_recommender(), app_in_thread(make_app, port) as url:
        yield url


def product_url(demo_store) -> str:
    return next(p.url for p in demo_store.kb.products if p.id == PRODUCT)


@pytest.mark.slow
def test_the_widget_sends_nothing_before_consent_and_card_clicked_after(browser, nudging_server: str,
                                                                        demo_store) -> None:
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    sockets, sent = [], []
    page.on("websocket", lambda ws: (sockets.append(ws), ws.on("framesent", lambda frame: sent.append(frame))))
    with page.expect_response("**/widget/config"):
        page.goto(nudging_server + product_url(demo_store))   # the page tracks the view: no consent, dropped
    page.click("#add-to-cart")                                 # dropped too
    page.wait_for_selector("#cart-status:has-text('Added')")
    assert sockets == []                                       # not even a connection before the shopper asks

    page.click("#shopbot-bubble")
    page.wait_for_selector("#shopbot-ask:has-text('May we use what you browse here to suggest products?')")
    page.wait_for_selector("#shopbot-status:has-text('online')")
    assert not [f for f in sent if '"type":"event"' in f]
    page.click("#shopbot-ask button:has-text('Yes')")
    page.wait_for_selector(".sb-bot:has-text('we use what you browse here')")

    type_and_send(page, "#shopbot-input", "show me waterproof jackets")
    page.wait_for_selector(".sb-card")
    card = page.locator(".sb-card").first
    with sockets[-1].expect_event("framereceived", predicate=lambda f: '"event_ack"' in f and "card_clicked" in f):
        with context.expect_page() as opened:
            card.click()
    clicks = [f for f in sent if '"card_clicked"' in f]
    assert len(clicks) == 1 and '"product_id":"P' in clicks[0]
    opened.value.close()
    context.close()


@pytest.mark.slow
def test_a_long_look_brings_one_nudge_that_takes_a_no(browser, nudging_server: str, demo_store) -> None:
    title = next(p.title for p in demo_store.kb.products if p.id == PRODUCT)
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.goto(nudging_server + product_url(demo_store))
    page.click("#shopbot-bubble")
    page.click("#shopbot-ask button:has-text('Yes')")
    page.wait_for_selector(".sb-bot:has-text('we use what you browse here')")
    page.reload()                     # the panel is closed again; the view is tracked, then its dwell
    page.wait_for_selector(f"#shopbot-panel.open .sb-bot:has-text('Questions about the {title}?')")
    page.click(".sb-buttons button:has-text('No thanks')")
    page.wait_for_selector(".sb-bot:has-text(\"won't pop up\")")
    assert page.locator(".sb-bot:has-text('Questions about the')").count() == 1
    context.close()
