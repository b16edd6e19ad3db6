"""The return label: a real PDF (parsed back with pypdf) naming the return, the order, its items, the store and the
addresses; and the link the shopper is given, absolute only when the server's public address is known."""

from __future__ import annotations

import io
import json

import pytest
from pypdf import PdfReader

from actions.return_labels import address_lines, label_link, label_pdf, public_url, set_public_url
from tests.support import DEMO_ORDERS

STORE_ADDRESS = "Pinecrest Outfitters, 1200 NW Marshall St, Portland, OR 97209, USA"


@pytest.fixture(autouse=True)
def no_public_url(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("SHOPBOT_PUBLIC_URL", raising=False)
    set_public_url(None)
    yield
    set_public_url(None)


def text_of_pdf(data: bytes) -> tuple[PdfReader, str]:
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    reader = PdfReader(io.BytesIO(data), strict=True)
    return reader, "\n".join(page.extract_text() for page in reader.pages)


def test_the_label_is_a_pdf_with_the_return_the_order_the_items_the_store_and_both_addresses(backend) -> None:
    opened = backend.start_return("10441", items=[0, 2]).detail
    token = opened["label_url"].rsplit("/", 1)[1].removesuffix(".pdf")
    record = backend.return_label(opened["return_id"], token)
    reader, text = text_of_pdf(label_pdf(record, "Pinecrest Outfitters", STORE_ADDRESS))
    assert len(reader.pages) == 1 and reader.metadata.title == f"Return label {opened['return_id']}"
    for wanted in (f"RETURN {opened['return_id']}", "Order 10441", "Northwind Winter Boot (size 10.5) ×2",
                   "Rally Tight (size S) ×2", "Pinecrest Outfitters Returns", "1200 NW Marshall St",
                   "Portland, OR 97209", "7 Marchmont Crescent", "Edinburgh Scotland EH9 1HN", "opened 2026-11-23"):
        assert wanted in text, wanted
    assert "Waypoint Low" not in text and "Otter Gravity Filter" not in text  # only the items of this return
    assert "freya.campbell" not in text  # no email on a parcel


def test_names_in_any_script_never_break_the_label() -> None:
    order = {"shipping_address": {"line1": "Dvořák 東京 \u202e\u200b", "city": "Łódź", "country": "Polska"}}
    record = {"return_id": "R1-0001", "order_id": "1", "created_at": "not a date", "order": order,
              "items": [{"title": "Bоots \ud800 🥾", "size": "９", "quantity": 3}, {"title": "x" * 400}]}
    _, text = text_of_pdf(label_pdf(record, "Ünïcode Störe ✓", {"line1": "1 Main St", "city": "Köln"}))
    assert "Dvorák" in text and "Ünïcode Störe" in text and "RETURN R1-0001" in text and "×3" in text


def test_many_items_flow_onto_further_pages() -> None:
    record = {"return_id": "R1-0002", "order_id": "1", "created_at": "2026-11-23T12:00-05:00", "order": {},
              "items": [{"title": f"Item number {n}", "quantity": 1} for n in range(60)]}
    reader, text = text_of_pdf(label_pdf(record, "Shop", "1 Main St, Town, Country"))
    assert len(reader.pages) > 1 and "Item number 59" in text


def test_address_lines() -> None:
    assert address_lines(STORE_ADDRESS, "Pinecrest Outfitters") == ["1200 NW Marshall St", "Portland, OR 97209",
                                                                     "USA"]
    order = next(o for o in json.loads(DEMO_ORDERS.read_text())["orders"] if o["id"] == "10441")
    assert address_lines(order["shipping_address"]) == ["7 Marchmont Crescent", "Edinburgh Scotland EH9 1HN",
                                                        "United Kingdom"]
    assert address_lines(None) == [] and address_lines(42) == []


def test_the_link_is_relative_unless_a_public_address_is_known(monkeypatch: pytest.MonkeyPatch) -> None:
    path = "/returns/labels/R10441-3EE4/G5B_9K0HzV7LZvy3uOEcGGORjnFcaBTa.pdf"
    assert label_link(path) == path
    set_public_url("https://chat.pinecrest.example/bot/")
    assert label_link(path) == "https://chat.pinecrest.example/bot" + path
    assert label_link("https://labels.carrier.example/x.pdf") == "https://labels.carrier.example/x.pdf"
    set_public_url(None)
    monkeypatch.setenv("SHOPBOT_PUBLIC_URL", "http://localhost:5005")  # a stock action server's setting
    assert label_link(path) == "http://localhost:5005" + path
    for bad in ("javascript:alert(1)", "pinecrest.example", "ftp://x.example", "https://"):
        set_public_url(bad)
        assert public_url() == "" and label_link(path) == path, bad
