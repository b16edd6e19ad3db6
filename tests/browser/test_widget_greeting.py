"""Our widget in a real browser (Debian's chromium) at phone (390 px) and desktop (1280 px) widths, on a real server
over a store that sells in euros (a copy of part of the demo store: some of its FAQ, four jackets and three hoodies,
one jacket without an image and one whose image is missing): the greeting in the store's name with clickable
suggested questions, readable source titles, euro prices (Intl.NumberFormat, never "$"), the placeholder for a
product without an image and for an image that fails to load (never alt text), the close button, and on a phone a
full-screen sheet. Screenshots are saved (SHOPBOT_SCREENSHOTS keeps them)."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.test_widgets import GREEN, has_colour, type_and_send
from tests.support import app_in_thread, free_port, own_recommender

STORE = "Lindenhof Outdoor"
TOPICS = ("returns", "orders", "account", "international", "gifts")
NO_IMAGE, BROKEN = "P1066", "P1067"          # Thaw Rain Jacket (no image), Halyard 2.5L Jacket (image missing)
PRODUCTS = (NO_IMAGE, BROKEN, "P1068", "P1069", "P1120", "P1121", "P1122")
PLACEHOLDER = "/widget/placeholder.svg"


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where screenshots go: SHOPBOT_SCREENSHOTS when set (to keep them), else the test's temporary folder."""
    folder = Path(os.environ.get("SHOPBOT_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def euro_store(root: Path) -> Path:
    """Part of the demo store, priced in EUR."""
    from bot.config import DEMO_KB

    root.mkdir(parents=True, exist_ok=True)
    (root / "store.yml").write_text(f"name: {STORE}\ncurrency: EUR\n", encoding="utf-8")
    with (DEMO_KB / "faq.csv").open(encoding="utf-8", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["topic"] in TOPICS]
    with (root / "faq.csv").open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    products = [json.loads(line) for line in (DEMO_KB / "catalog.jsonl").read_text(encoding="utf-8").splitlines()]
    chosen = [p for p in products if p["id"] in PRODUCTS]
    (root / "images").mkdir(exist_ok=True)
    for product in chosen:
        product["currency"] = "EUR"
        if product["id"] == NO_IMAGE:
            product["image"] = ""
        elif product["id"] == BROKEN:
            product["image"] = "images/missing.svg"
        else:
            shutil.copy(DEMO_KB / product["image"], root / product["image"])
    (root / "catalog.jsonl").write_text("".join(json.dumps(p) + "\n" for p in chosen), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def euro_server(embedder, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """The whole app over the euro store (no NLU: retrieval and product search; extractive replies); yields the
    base URL and the product titles by id."""
    from actions.services import set_backend
    from bot.app import build_bot
    from bot.config import ServerSettings, Settings
    from bot.dialogue.store import ConversationStore
    from bot.responder.responder import Responder
    from bot.server import create_app
    from retrieval.store import open_store

    folder = tmp_path_factory.mktemp("euro")
    root = euro_store(folder / "store")
    port = free_port()
    settings = Settings(kb_dir=root, cache_dir=folder / "cache", data_dir=folder / "data",
                        server=ServerSettings(port=port))
    knowledge = open_store(settings, embedder=embedder)
    titles = {p.id: p.title for p in knowledge.kb.products}

    def make_app():
        store = ConversationStore(folder / "conversations.db")
        return create_app(build_bot(settings, knowledge, Responder(None), None, store), settings)

    try:
        with own_recommender(), app_in_thread(make_app, port) as url:
            yield url, titles
    finally:
        set_backend(None)   # this store (no orders) installed itself: the next server decides its own again


def images_settled(page) -> None:
    page.wait_for_function("[...document.querySelectorAll('.sb-card img, .product img')]"
                           ".every(i => i.complete && i.naturalWidth > 0)")


def check_storefront(page, base: str, titles: dict[str, str]) -> None:
    """Every product shows an image (the placeholder when it has none or its image fails) and a euro price."""
    images_settled(page)
    for pid in (NO_IMAGE, BROKEN):
        src = page.get_attribute(f".product[data-id='{pid}'] img", "src")
        assert page.evaluate(f"document.querySelector(\".product[data-id='{pid}'] img\").src") == base + PLACEHOLDER, src
    prices = page.locator(".product .price").all_inner_texts()
    assert len(prices) == len(PRODUCTS) and all(re.fullmatch(r"€[\d,]+\.\d\d", p) for p in prices), prices
    assert "$" not in page.locator("main").inner_text()


def check_greeting_and_source_titles(page) -> str:
    """The greeting and its suggestions; one clicked gets an answer whose source is a readable title."""
    page.wait_for_selector("#shopbot-greeting")
    assert STORE in page.inner_text("#shopbot-greeting")
    suggestions = page.locator("#shopbot-suggestions button")
    assert 3 <= suggestions.count() <= 4
    asked = suggestions.first.inner_text()
    suggestions.first.click()
    assert page.locator("#shopbot-suggestions").count() == 0      # asked: the suggestions step aside
    page.wait_for_selector(f".sb-user:has-text({json.dumps(asked)})")
    source = page.locator(".sb-sources").first
    source.wait_for()
    shown = source.inner_text()
    assert shown.startswith("Source: ") and ":" in shown[len("Source: "):]
    assert not re.search(r"\b(faq|policy|product):", shown) and asked in shown, shown   # "Returns: How do I ...?"
    return asked


def check_cards(page, base: str, titles: dict[str, str]) -> None:
    """Euro prices, the placeholder for the imageless and the broken product, no alt text, links to real pages."""
    type_and_send(page, "#shopbot-input", "show me rain jackets")
    page.wait_for_selector(".sb-card")
    images_settled(page)
    lead = page.locator(".sb-bot").last.inner_text()          # "Here are some options ..., from €91.99 to €125.00."
    assert "€" in lead and "$" not in lead, lead
    cards = page.locator(".sb-card")
    texts = cards.all_inner_texts()
    assert any(titles[NO_IMAGE] in t for t in texts) and any(titles[BROKEN] in t for t in texts), texts
    for i in range(cards.count()):
        card = cards.nth(i)
        image = card.locator("img")
        assert image.get_attribute("alt") == ""                   # an image never shows words as content
        lines = card.inner_text().split("\n")
        price = card.locator(".sb-price").inner_text()
        assert re.fullmatch(r"€[\d,]+\.\d\d", price) and "$" not in card.inner_text(), lines
        if titles[NO_IMAGE] in lines[0] or titles[BROKEN] in lines[0]:
            assert image.evaluate("i => i.src") == base + PLACEHOLDER
        href = card.get_attribute("href")
        assert href.startswith(base + "/products/"), href
        reason = card.locator("div").nth(2).inner_text() if card.locator("div").count() > 2 else ""
        assert price not in reason and "€" not in reason
    href = cards.first.get_attribute("href")
    assert page.request.get(href).ok                              # the bot's own product page, not a 404


def open_widget(context, base: str, titles: dict[str, str]) -> tuple:
    """The storefront checked, the bubble clicked, the widget online: the page and the panel's box."""
    page = context.new_page()
    page.goto(base + "/")
    check_storefront(page, base, titles)
    page.click("#shopbot-bubble")
    page.wait_for_selector("#shopbot-status:has-text('online')")
    return page, page.locator("#shopbot-panel").bounding_box()


@pytest.mark.slow
def test_on_a_phone_the_widget_is_a_full_screen_sheet_that_greets_and_closes(browser, euro_server, shots: Path) -> None:
    base, titles = euro_server
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=1, is_mobile=True,
                                  has_touch=True)
    page, box = open_widget(context, base, titles)
    assert box == {"x": 0, "y": 0, "width": 390, "height": 844}, box   # the sheet covers the viewport
    assert not page.locator("#shopbot-bubble").is_visible()
    page.wait_for_selector("#shopbot-greeting")
    greeting_shot = shots / "widget_phone_greeting.png"
    page.screenshot(path=str(greeting_shot))
    check_greeting_and_source_titles(page)
    check_cards(page, base, titles)
    cards_shot = shots / "widget_phone_cards.png"
    page.screenshot(path=str(cards_shot))

    page.click("#shopbot-close")
    assert not page.locator("#shopbot-panel").is_visible() and page.locator("#shopbot-bubble").is_visible()
    page.click("#shopbot-bubble")                                  # the conversation is still there
    assert page.locator("#shopbot-panel").is_visible() and page.locator(".sb-card").count() >= 1
    assert page.locator("#shopbot-greeting").count() == 1          # greeted once, not again
    context.close()
    assert has_colour(greeting_shot, GREEN) and has_colour(cards_shot, GREEN)


@pytest.mark.slow
def test_on_a_desktop_the_widget_floats_greets_and_shows_euro_cards(browser, euro_server, shots: Path) -> None:
    base, titles = euro_server
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page, box = open_widget(context, base, titles)
    assert box["width"] == 360 and box["height"] == 520 and box["x"] + box["width"] == 1280 - 20, box
    assert page.locator("#shopbot-bubble").is_visible()
    page.wait_for_selector("#shopbot-greeting")
    check_greeting_and_source_titles(page)
    check_cards(page, base, titles)
    shot = shots / "widget_desktop_cards.png"
    page.screenshot(path=str(shot))
    page.keyboard.press("Escape")                                  # focus is in the panel's input
    assert not page.locator("#shopbot-panel").is_visible()
    page.click("#shopbot-bubble")
    page.click("#shopbot-close")
    assert not page.locator("#shopbot-panel").is_visible()

    product = context.new_page()                                   # the imageless product's own page
    product.goto(base + f"/products/{NO_IMAGE}")
    product.wait_for_function("document.querySelector('article img').naturalWidth > 0")
    assert product.evaluate("document.querySelector('article img').src") == base + PLACEHOLDER
    assert re.fullmatch(r"€[\d,]+\.\d\d", product.inner_text(".price"))
    context.close()
    assert has_colour(shot, GREEN)
