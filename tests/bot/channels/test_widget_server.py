"""What the server gives the widget, on a real server over the demo store: readable source titles beside the ids
(`/ws` and REST), the greeting with its suggested questions and the store's currency at `/widget/config`, the most
asked questions read from a real SQLite conversation store, card links that never 404 without `store_url`, card
reasons that leave the price to the card, and a placeholder for products without an image on the storefront."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import aiohttp
import pytest

from bot.channels.behaviour import store_currency
from bot.channels.greeting import MOST_ASKED, TOPICS, WidgetGreeting, answer_check, greeting_text, topic_entries
from bot.dialogue.store import ConversationStore
from bot.source_titles import SourceTitles
from bot.web.pages import PLACEHOLDER, product_html, storefront_html
from retrieval.documents import Product
from retrieval.recommend import card_link
from tests.bot.channels.conftest import run

T0 = 1_795_000_000.0


def test_a_grounded_answer_sends_readable_titles_beside_its_source_ids(serve, demo_store) -> None:
    async def chat():
        async with serve() as server, aiohttp.ClientSession() as http:
            async with http.ws_connect(server.make_url("/ws")) as ws:
                await ws.receive_json()
                await ws.send_json({"type": "message", "text": "do you ship to Canada?", "message_id": "m1"})
                while (frame := await ws.receive_json(timeout=30))["type"] != "message":
                    pass
            async with http.post(server.make_url("/webhooks/rest/webhook"),
                                 json={"sender": "s1", "message": "how do I start a return?"}) as response:
                rest = await response.json()
            return frame, rest

    frame, rest = run(chat())
    titles = SourceTitles(demo_store.kb)
    assert frame["sources"][0] == "faq:international-countries"    # the ids stay, for programs
    assert frame["source_titles"][0] == "International: Which countries do you ship to?"
    assert frame["source_titles"] == titles(frame["sources"])
    custom = next(m["custom"] for m in rest if "custom" in m)
    assert len(custom["source_titles"]) == len(custom["sources"]) and custom["sources"]
    assert custom["source_titles"] == titles(custom["sources"])
    assert not any(t.startswith(("faq:", "policy:", "product:")) for t in custom["source_titles"])


def test_source_titles_for_every_kind_and_for_ids_the_store_does_not_know(demo_store) -> None:
    kb = demo_store.kb
    titles = SourceTitles(kb)
    section = kb.policies[0]
    assert titles.title("faq:how-to-start-return") == "Returns: How do I start a return?"
    assert titles.title(f"policy:{section.id}") == f"{section.document}: {section.heading}"
    assert titles.title("product:P1001") == "Tern Road Runner 3"
    assert titles.title("reviews:P1001") == "Shopper reviews of the Tern Road Runner 3"
    assert titles(["faq:gone-entry", "order:10445", "odd"]) == ["FAQ: Gone entry", "Order 10445", "Odd"]


def test_the_widget_config_greets_in_the_store_name_with_its_faq_topics_and_currency(serve, demo_store) -> None:
    async def fetch():
        async with serve() as server, aiohttp.ClientSession() as http:
            async with http.get(server.make_url("/widget/config")) as response:
                return await response.json()

    config = run(fetch())
    assert config["store"] == {"name": "Pinecrest Outfitters", "currency": "USD"}
    greeting = config["greeting"]
    assert greeting["text"] == greeting_text("Pinecrest Outfitters") and "Pinecrest Outfitters" in greeting["text"]
    assert greeting["from"] == TOPICS
    assert [s["title"] for s in greeting["suggestions"]] == [
        "How long do I have to return an item?", "How much does shipping cost?", "How do I create an account?",
        "Can I cancel my order?"]   # the first entry of the four topics with the most entries
    assert all(s["payload"] == s["title"] for s in greeting["suggestions"])
    assert config["behaviour"]["consent"] == "opt_in"              # what was there before is unchanged


def chat_citing(store: ConversationStore, conversation: str, source: str | None, t: float) -> None:
    """One chat in the store whose grounded answer cited `source` (None: a chat with no answer)."""
    events = [{"event": "action", "name": "action_session_start", "timestamp": t},
              {"event": "session_started", "timestamp": t},
              {"event": "user", "text": "a question", "timestamp": t,
               "parse_data": {"intent": {"name": "ask", "confidence": 0.9}, "source": "nlu"}}]
    if source is not None:
        events += [{"event": "action", "name": "action_answer", "timestamp": t},
                   {"event": "bot", "text": "an answer", "timestamp": t, "data": {"sources": [source]}}]
    store.append_sync(conversation, events + [{"event": "action", "name": "action_listen", "timestamp": t}], "web")


def test_the_most_asked_questions_come_first_once_enough_chats_asked_them(demo_kb, tmp_path: Path) -> None:
    store = ConversationStore(tmp_path / "conversations.db")
    now = [T0]
    greeting = WidgetGreeting(demo_kb, store, refresh_s=600, clock=lambda: now[0])
    topics = [e.question for e in topic_entries(demo_kb.faq, 4)]

    async def ask() -> dict:
        return (await greeting.config())["greeting"]

    try:
        for i in range(3):
            chat_citing(store, f"web:gift{i}", "faq:gift-cards-buy", T0 - 3600)
        for i in range(2):    # asked in two chats only: not yet "most asked"
            chat_citing(store, f"web:intl{i}", "faq:international-countries", T0 - 3600)
        for i in range(4):    # long ago: outside the 30-day window
            chat_citing(store, f"web:old{i}", "faq:international-countries", T0 - 40 * 86400)
        chat_citing(store, "web:none", None, T0 - 60)
        first = run(ask())
        gift = next(e.question for e in demo_kb.faq if e.id == "gift-cards-buy")
        assert first["from"] == MOST_ASKED
        assert [s["title"] for s in first["suggestions"]] == [gift, *topics[:3]]

        chat_citing(store, "web:intl2", "faq:international-countries", T0)   # the third chat asking it
        assert run(ask()) == first                     # read at most once per refresh_s
        now[0] += 601
        later = [s["title"] for s in run(ask())["suggestions"]]
        assert later[:2] == [gift, "Which countries do you ship to?"] and later[2:] == topics[:2]
    finally:
        store.close()


def test_without_a_conversation_store_or_an_faq_topic_the_suggestions_are_the_first_entries(demo_kb) -> None:
    plain = dataclasses.replace(demo_kb, faq=[dataclasses.replace(e, topic="") for e in demo_kb.faq[:6]])
    greeting = run(WidgetGreeting(plain, None).config())["greeting"]
    assert [s["title"] for s in greeting["suggestions"]] == [e.question for e in plain.faq[:4]]
    assert run(WidgetGreeting(dataclasses.replace(demo_kb, faq=[]), None).config())["greeting"]["suggestions"] == []


def test_a_topic_whose_first_question_starts_a_form_is_suggested_by_another_of_its_questions(demo_kb) -> None:
    returns = [e for e in demo_kb.faq if e.topic == "returns"]
    picked = topic_entries(demo_kb.faq, 4, answered=lambda e: e.id != returns[0].id)
    assert picked[0] == returns[1] and [e.topic for e in picked] == ["returns", "shipping", "account", "orders"]
    assert topic_entries(demo_kb.faq, 4, answered=lambda e: e.topic != "returns")[0].topic == "shipping"


@pytest.mark.slow
def test_with_the_nlu_every_suggested_question_gets_an_answer_from_the_faq(make_engine, demo_parser, demo_store) -> None:
    from bot.messages import Inbound

    engine = make_engine(parser=demo_parser)
    check = answer_check(engine.parser, engine.domain, engine.options.ask_below)
    assert check(["Can I cancel my order?", "How much does shipping cost?"]) == [False, True]   # a form; an answer
    greeting = WidgetGreeting(demo_store.kb, None, answers=check)
    suggestions = run(greeting.config())["greeting"]["suggestions"]
    assert len(suggestions) == 4 and "Can I cancel my order?" not in [s["title"] for s in suggestions]

    async def ask(text: str, sender: str):
        return [o async for o in engine.handle(Inbound(sender, text, "web")) if o.type == "message"][-1]

    for i, suggestion in enumerate(suggestions):
        reply = run(ask(suggestion["payload"], f"s{i}"))
        assert reply.sources and reply.sources[0].startswith("faq:"), (suggestion, reply.text)
        assert reply.source_titles[0].endswith(suggestion["title"]), (suggestion, reply.source_titles)


def test_concurrent_config_requests_read_the_store_once(demo_kb, tmp_path: Path) -> None:
    store = ConversationStore(tmp_path / "conversations.db")
    reads = []
    greeting = WidgetGreeting(demo_kb, store)
    original = greeting._read

    async def counted():
        reads.append(1)
        return await original()

    greeting._read = counted

    async def many():
        return await asyncio.gather(*(greeting.config() for _ in range(5)))

    try:
        answers = run(many())
    finally:
        store.close()
    assert len(reads) == 1 and all(a == answers[0] for a in answers)


def test_the_store_currency_comes_from_store_yml_else_from_the_products(demo_kb) -> None:
    assert store_currency(demo_kb) == "USD"
    euros = [dataclasses.replace(p, currency="EUR") for p in demo_kb.products[:3]]
    assert store_currency(dataclasses.replace(demo_kb, facts={}, products=euros)) == "EUR"
    assert store_currency(dataclasses.replace(demo_kb, facts={"currency": "gbp"}, products=euros)) == "GBP"
    assert store_currency(dataclasses.replace(demo_kb, facts={}, products=[])) == "USD"


def test_card_links_go_to_the_bots_own_product_page_without_a_store_url() -> None:
    slug = Product("P9", "Trail Mug", "Ridgeway", "Camp Kitchen", 12.0, url="/products/p9-trail-mug")
    bare = Product("P8", "Camp Stool", "Ridgeway", "Camp Furniture", 30.0)
    elsewhere = Product("P7", "Lantern", "Ridgeway", "Lighting", 45.0, url="/shop/lantern.html")
    absolute = Product("P6", "Stove", "Ridgeway", "Camp Kitchen", 80.0, url="https://shop.example/stove")
    assert [card_link(p) for p in (slug, bare, elsewhere, absolute)] == [
        "/products/p9-trail-mug", "/products/P8", "/products/P7", "https://shop.example/stove"]
    assert [card_link(p, "https://store.example") for p in (slug, bare, elsewhere, absolute)] == [
        "https://store.example/products/p9-trail-mug", "https://store.example/products/P8",
        "https://store.example/shop/lantern.html", "https://shop.example/stove"]


def test_every_card_link_without_a_store_url_opens_a_storefront_page(serve, demo_store) -> None:
    from retrieval.recommend import Recommender

    cards = Recommender(demo_store.products).recommend("waterproof jackets under $200").cards
    assert cards

    async def visit():
        async with serve() as server, aiohttp.ClientSession() as http:
            statuses = []
            for card in cards:
                async with http.get(server.make_url(card.link)) as response:
                    statuses.append((response.status, card.title in await response.text()))
            return statuses

    assert run(visit()) == [(200, True)] * len(cards)


def test_card_reasons_never_repeat_the_price(demo_store) -> None:
    from retrieval.recommend import Recommender

    for query in ("waterproof jackets under $200", "running shoes between $50 and $150", "tents over $100"):
        cards = Recommender(demo_store.products).recommend(query).cards
        assert cards, query
        for card in cards:
            assert "$" not in card.reason and f"{card.price:.2f}" not in card.reason, (query, card.reason)


def test_list_leads_write_prices_in_the_products_currency(demo_store) -> None:
    from retrieval.money import money
    from retrieval.products import ProductResults
    from retrieval.recommend import Recommender

    assert [money(91.99, "EUR"), money(1234.5, "usd"), money(1200, "JPY"), money(12, "CHF")] == [
        "€91.99", "$1,234.50", "¥1,200", "12.00 CHF"]
    results = demo_store.products.search("rain jacket")
    euros = [dataclasses.replace(h, product=dataclasses.replace(h.product, currency="EUR")) for h in results.hits]
    lead = Recommender._lead(dataclasses.replace(results, hits=euros), False)
    assert isinstance(results, ProductResults) and "€" in lead and "$" not in lead, lead


def test_the_storefront_shows_a_placeholder_for_a_product_without_an_image(demo_kb) -> None:
    bare = dataclasses.replace(demo_kb.products[0], image="", currency="EUR", price=1234.5)
    kb = dataclasses.replace(demo_kb, products=[bare, *demo_kb.products[1:3]])
    page, product = storefront_html(kb), product_html(kb, bare)
    assert f'<img src="{PLACEHOLDER}" alt=""' in page and f'<img src="{PLACEHOLDER}" alt=""' in product
    assert 'src=""' not in page and "onerror=" in page and "onerror=" in product
    assert 'data-amount="1234.50" data-currency="EUR">1,234.50 EUR' in page
    assert 'data-currency="EUR">1,234.50 EUR' in product and "$1234.50" not in product
    assert "Intl.NumberFormat" in page and "Intl.NumberFormat" in product


def test_the_placeholder_image_is_served(serve) -> None:
    async def fetch():
        async with serve() as server, aiohttp.ClientSession() as http:
            async with http.get(server.make_url(PLACEHOLDER)) as response:
                return response.status, response.headers["Content-Type"], await response.text()

    status, kind, body = run(fetch())
    assert status == 200 and kind.startswith("image/svg+xml") and body.lstrip().startswith("<svg")
