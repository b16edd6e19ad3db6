"""Return labels: the link a shopper is given, and the PDF the bot's server sends for it.

The link is `/returns/labels/<return id>/<label token>.pdf` (the back-end keeps a random token with each return, so
the link is a capability: nobody can work one out from a return id). It is made absolute with the server's public
address when one is known: `set_public_url` (the bot's server installs its `server.public_url`), else the
`SHOPBOT_PUBLIC_URL` variable (a stock `python -m rasa_sdk` action server); otherwise it stays relative.

The PDF is a 4 x 6 inch label written with fpdf2's core Helvetica: the store, where to send the parcel, the sender,
the return id, the order and its lines. Text outside Latin-1 is folded to its base letters ("Dvořák" ->
"Dvorák"), else "?": a label never fails on a name.
"""

from __future__ import annotations

import logging
import threading
import unicodedata
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger("shopbot.actions")
LABEL_SIZE_MM = (101.6, 152.4)       # 4 x 6 inches, the usual parcel label
_public_url: str | None = None
_lock = threading.Lock()


def set_public_url(url: str | None) -> None:
    """The address the outside reaches the bot's server at (`https://shop.example/chat`), or None to fall back to
    the settings' `server.public_url` (`SHOPBOT_PUBLIC_URL`). Anything but an http(s) address is ignored (with a
    warning): links stay relative."""
    global _public_url
    with _lock:
        _public_url = url


def public_url() -> str:
    """The public address label links start with ("" when none is set or it is not an http(s) address)."""
    with _lock:
        configured = _public_url
    if configured is None:
        from actions.settings import ActionSettings

        configured = ActionSettings.load().server.public_url
    url = configured.strip()
    if not url:
        return ""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        log.warning("public URL %r is not an http(s) address: label links stay relative", url)
        return ""
    return url.rstrip("/")


def label_link(label_url: str) -> str:
    """The link to give the shopper for a back-end's `label_url`: absolute when the public address is known and
    the back-end's link is a path on the bot's server, else as the back-end gave it."""
    base = public_url()
    return base + label_url if base and label_url.startswith("/") else label_url


def item_text(item: dict[str, Any]) -> str:
    """"Northwind Winter Boot (size 10.5) x2": an order line as labels and replies name it."""
    size = f" (size {item['size']})" if item.get("size") not in (None, "", "One Size") else ""
    quantity = int(item.get("quantity") or 1)
    return f"{item.get('title') or 'Item'}{size}" + (f" \u00d7{quantity}" if quantity > 1 else "")


def address_lines(address: Any, name: str = "") -> list[str]:
    """An address (`{"line1", "city", "region", "postal_code", "country"}` or one line of text) as label lines;
    a leading `name` in a one-line address is left out (the label names the addressee itself)."""
    if isinstance(address, str):  # "1200 NW Marshall St, Portland, OR 97209, USA": street, city line, country
        parts = [part.strip() for part in address.split(",") if part.strip()]
        if parts and name and parts[0].casefold() == name.casefold():
            parts = parts[1:]
        return parts if len(parts) < 3 else [parts[0], ", ".join(parts[1:-1]), parts[-1]]
    if not isinstance(address, dict):
        return []
    city = " ".join(str(address[k]).strip() for k in ("city", "region", "postal_code") if address.get(k))
    return [str(address[k]).strip() for k in ("name", "line1", "line2") if address.get(k)] + \
        ([city] if city else []) + ([str(address["country"]).strip()] if address.get("country") else [])


def label_pdf(record: dict[str, Any], store_name: str, ship_to: Any) -> bytes:
    """The return label of a back-end's return record (`return_id`, `order_id`, `created_at`, `items`, `order`):
    `ship_to` is where the parcel goes (the store's returns address), the sender the order's shipping address."""
    from fpdf import FPDF  # imported on first use: it brings Pillow and fontTools (about 0.4 s)

    order = record.get("order") or {}
    pdf = FPDF(format=LABEL_SIZE_MM)
    pdf.set_margins(8, 8, 8)
    pdf.set_auto_page_break(True, margin=8)
    pdf.set_title(_latin1(f"Return label {record['return_id']}"))
    pdf.set_author(_latin1(store_name))
    pdf.set_creator("shopbot")
    created = _date(record.get("created_at"))
    if created is not None:
        pdf.set_creation_date(created)
    pdf.add_page()
    width = pdf.epw

    def block(text: str, size: float = 9, style: str = "", gap: float = 0.0) -> None:
        pdf.set_font("Helvetica", style, size)
        pdf.multi_cell(width, size * 0.5, _latin1(text), new_x="LMARGIN", new_y="NEXT", align="L")
        if gap:
            pdf.ln(gap)

    block(store_name, 14, "B")
    block("Prepaid return label", 10, gap=3)
    block("SHIP TO", 7, "B")
    for line in [f"{store_name} Returns"] + address_lines(ship_to, store_name):
        block(line, 11, "B")
    pdf.ln(3)
    block("FROM", 7, "B")
    for line in address_lines(order.get("shipping_address")) or ["(the address on the order)"]:
        block(line, 9)
    pdf.ln(3)
    pdf.set_draw_color(0)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + width, pdf.get_y())
    pdf.ln(3)
    block(f"RETURN {record['return_id']}", 16, "B")
    block(f"Order {record['order_id']}" + (f"  -  opened {created.date().isoformat()}" if created else ""), 9,
          gap=2)
    block("Items in this parcel", 7, "B")
    for item in record.get("items") or []:
        block(f"- {item_text(item)}", 9)
    pdf.ln(3)
    block("Pack the items unworn, with their tags, and write the return id on the parcel.", 7)
    return bytes(pdf.output())


def _date(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value))
    except (TypeError, ValueError):
        return None


def _latin1(text: Any) -> str:
    """Text the core PDF fonts can draw: control and format characters dropped, anything outside Latin-1 folded
    to its base letters (NFKD without the marks), else "?"."""
    out = []
    for char in unicodedata.normalize("NFC", str(text if text is not None else "")):
        if unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn"):
            continue
        if ord(char) < 256:
            out.append(char)
            continue
        base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
        out.append(base if base and all(ord(c) < 256 for c in base) else "?")
    return "".join(out)
