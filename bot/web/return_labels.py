"""`GET /returns/labels/{return_id}/{token}.pdf`: the prepaid return label a shopper is linked to after a return.

The link is a capability: the back-end gives the return only for its own random label token (compared in constant
time), so a guessed or enumerated return id, another return's token or a malformed path all get the same 404, and
never another return's label. The PDF is made on request from the back-end's record (`actions.return_labels`), with
the store's name and returns address (`returns.address` in store.yml, else `contact.mailing_address`); it is marked
private and not cached. Label links given in chat are absolute when `server.public_url` is set.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web

from actions.return_labels import label_pdf, set_public_url
from actions.services import get_backend
from retrieval.loaders import KnowledgeBase

log = logging.getLogger("shopbot.server")
ROUTE = "/returns/labels/{return_id:R[0-9]{1,32}-[0-9A-F]{4,8}}/{token:[A-Za-z0-9_-]{32}}.pdf"
NOT_FOUND = {"error": {"code": "not_found", "message": "no such label"}}
PRIVATE = {"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff",
           "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}


def returns_address(facts: dict[str, Any]) -> Any:
    """Where returned parcels go: store.yml's `returns.address`, else `contact.mailing_address` (None if neither)."""
    returns, contact = facts.get("returns"), facts.get("contact")
    own = returns.get("address") if isinstance(returns, dict) else None
    return own or (contact.get("mailing_address") if isinstance(contact, dict) else None)


def add_routes(app: web.Application, kb: KnowledgeBase, public_url: str = "") -> None:
    """Serve return labels for the store in `kb`; label links in chat start with `public_url` when it is set."""
    set_public_url(public_url or None)
    ship_to = returns_address(kb.facts)

    async def label(request: web.Request) -> web.StreamResponse:
        lookup = getattr(get_backend(), "return_label", None)  # no order system, or one that makes no labels
        if lookup is None:
            return web.json_response(NOT_FOUND, status=404, headers=PRIVATE)
        record = await asyncio.to_thread(lookup, request.match_info["return_id"], request.match_info["token"])
        if record is None:
            return web.json_response(NOT_FOUND, status=404, headers=PRIVATE)
        body = await asyncio.to_thread(label_pdf, record, kb.name, ship_to)
        return web.Response(body=body, content_type="application/pdf", headers={
            **PRIVATE, "Content-Disposition": f'inline; filename="{record["return_id"]}.pdf"'})

    app.router.add_get(ROUTE, label)
