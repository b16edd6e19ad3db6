"""Real browsers on the real server: our widget on the demo storefront (streaming, sources, buttons, cards,
an order check, handoff to the agent console, resume after a reload with order facts left out of the history,
a second tab with its own session), and the unchanged rasa-webchat widget over socket.io.
Screenshots are saved and checked for the widget's colours."""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.browser.conftest import WEBCHAT

GREEN = (31, 111, 80)  # the widget's header and user bubbles


def has_colour(path: Path, colour: tuple[int, int, int], at_least: int = 500) -> bool:
    pixels = np.asarray(Image.open(path).convert("RGB")).reshape(-1, 3)
    return int((pixels == np.array(colour)).all(axis=1).sum()) >= at_least


def type_and_send(page, box: str, text: str) -> None:
    """Type a message into a widget's input and press Enter, as a shopper would."""
    page.fill(box, text)
    page.press(box, "Enter")


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where screenshots go: SHOPBOT_SCREENSHOTS when set (to keep them), else the test's temporary folder."""
    folder = Path(os.environ.get("SHOPBOT_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def agent_call(base: str, path: str, body: dict | None = None) -> object:
    request = urllib.request.Request(base + "/agent/api" + path, method="POST" if body is not None else "GET",
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": "Bearer agent-key", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@pytest.mark.slow
def test_our_widget_on_the_storefront(browser, live_server: str, shots: Path) -> None:
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.goto(live_server + "/")
    assert page.locator(".product").count() == 334
    page.click("#shopbot-bubble")
    page.wait_for_selector("#shopbot-status:has-text('online')")

    type_and_send(page, "#shopbot-input", "do you ship to Canada?")
    page.wait_for_selector(".sb-sources")
    assert "Canada" in page.locator(".sb-bot").last.inner_text()

    type_and_send(page, "#shopbot-input", "what can you do?")
    page.click(".sb-buttons button:has-text('Find a product')")
    page.wait_for_selector(".sb-bot:has-text('What are you looking for?')")
    type_and_send(page, "#shopbot-input", "waterproof jackets under $200")
    page.wait_for_selector(".sb-card img")
    assert page.locator(".sb-card").count() >= 3
    page.wait_for_function("[...document.querySelectorAll('.sb-card img')].every(i => i.complete && i.naturalWidth)")
    cards_shot = shots / "widget_cards.png"
    page.screenshot(path=str(cards_shot))

    type_and_send(page, "#shopbot-input", '/order_status{"order_id": "10445"}')
    page.wait_for_selector(".sb-bot:has-text('email')")
    type_and_send(page, "#shopbot-input", '/inform{"email": "avery_singh86@example.org"}')
    page.wait_for_selector(".sb-bot:has-text('9126145823')")  # the order's tracking number, on this connection

    type_and_send(page, "#shopbot-input", "I want to talk to a person")
    page.wait_for_selector(".sb-note")
    waiting = agent_call(live_server, "/conversations")
    assert len(waiting) == 1
    agent_call(live_server, f"/conversations/{waiting[0]['id']}/messages", {"text": "Hi, Sam here. How can I help?"})
    page.wait_for_selector(".sb-agent:has-text('Sam here')")

    kept = page.evaluate("() => [Object.keys(sessionStorage), Object.keys(localStorage)]")
    assert any(k.startswith("shopbot-session:") for k in kept[0]) and not any(k.startswith("shopbot-") for k in kept[1])
    page.reload()  # the session resumes with its id and secret (sessionStorage): history comes back
    page.click("#shopbot-bubble")
    page.wait_for_selector(".sb-msg:has-text('Sam here')")
    assert page.locator(".sb-msg:has-text('do you ship to Canada?')").count() == 1
    assert page.locator(".sb-msg:has-text('9126145823')").count() == 0   # order facts are not replayed
    assert page.locator(".sb-note:has-text('Order details are not shown again')").count() == 1
    resumed_shot = shots / "widget_resumed.png"
    page.screenshot(path=str(resumed_shot))
    other_tab = context.new_page()  # another tab of the same browser has its own session: nothing of this one
    other_tab.goto(live_server + "/")
    other_tab.click("#shopbot-bubble")
    other_tab.wait_for_selector("#shopbot-status:has-text('online')")
    assert other_tab.locator(".sb-msg:not(#shopbot-greeting)").count() == 0   # only the widget's own greeting
    context.close()
    assert has_colour(cards_shot, GREEN) and has_colour(resumed_shot, GREEN)


@pytest.mark.slow
def test_rasa_webchat_unchanged_over_socketio(browser, live_server: str, shots: Path) -> None:
    if not WEBCHAT.is_file():
        pytest.skip("rasa-webchat is not installed (make setup runs npm ci in tests/browser)")
    page = browser.new_page(viewport={"width": 900, "height": 800})
    page.route("**/rasa-webchat.js", lambda route: route.fulfill(path=str(WEBCHAT),
                                                                  content_type="application/javascript"))
    html = f"""<html><body><div id="webchat"></div>
<script src="{live_server}/rasa-webchat.js"></script>
<script>WebChat.default({{selector: "#webchat", socketUrl: "{live_server}", socketPath: "/socket.io/",
  initPayload: "/greet", title: "Pinecrest", customData: {{language: "en"}}, params: {{storage: "session"}}}}, null);
</script></body></html>"""
    page.goto(live_server + "/health")  # same origin as the socket.io server
    page.set_content(html)
    page.click(".rw-launcher")
    page.wait_for_selector(".rw-response")
    type_and_send(page, ".rw-new-message", "what can you do?")
    page.wait_for_selector(".rw-reply")
    assert "Where's my order?" in page.locator(".rw-replies").last.inner_text()
    page.click(".rw-reply:has-text('Find a product')")
    type_and_send(page, ".rw-new-message", "waterproof jackets under $200")
    page.wait_for_selector(".rw-image-frame")
    shot = shots / "rasa_webchat.png"
    page.screenshot(path=str(shot))
    session = "() => JSON.parse(sessionStorage.getItem('chat_session') || '{}').session_id"
    stored = page.evaluate(session)
    page.goto(live_server + "/health")  # a reload: rasa-webchat sends back the id it stored, which resumes
    page.set_content(html)
    page.wait_for_selector(".rw-launcher, .rw-new-message")
    if not page.locator(".rw-new-message").count():  # rasa-webchat may restore the open chat itself
        page.click(".rw-launcher")
    replies = page.locator(".rw-response").count()
    type_and_send(page, ".rw-new-message", "what can you do?")
    page.wait_for_function(f"() => document.querySelectorAll('.rw-response').length > {replies}")
    resumed = page.evaluate(session)
    earlier = page.locator(".rw-client:has-text('waterproof jackets under $200')").count()
    page.close()
    assert stored and len(stored) == 44 and resumed == stored and earlier == 1
    pixels = np.asarray(Image.open(shot).convert("RGB")).reshape(-1, 3)
    assert pixels.shape[0] == 900 * 800 and len(np.unique(pixels, axis=0)) > 50
