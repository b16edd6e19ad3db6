"""`/admin`: the store owner's analytics page, and its API `/admin/api/report`, behind `server.admin_token`.

The page (`bot/web/admin.html`) holds no figure: it asks for the token (or takes it from the address's `#token=...`
fragment, which browsers never send to a server), keeps it in the tab's `sessionStorage` and fetches the report
with `Authorization: Bearer <token>`. The API takes the token only in that header (never in the query string,
where logs and browser history keep it), compares it in constant time, and answers 401 to anything else; without
an `admin_token` the page and the API are off (404). The report is built from the conversation store on each
request (`bot.analytics.report`), so an erased conversation is never in it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.analytics.clusters import index_embed, index_nearest
from bot.analytics.report import build_report, parse_when
from bot.channels.guard import error_response
from bot.dialogue.errors import StateUnavailable

PAGE = Path(__file__).resolve().parents[1] / "web" / "admin.html"
_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)
_STYLE = re.compile(r"<style>(.*?)</style>", re.DOTALL)
NOT_CONFIGURED = "set server.admin_token (SHOPBOT_ADMIN_TOKEN) to use the analytics page"


def _hashes(pattern: re.Pattern[str], html: str) -> str:
    return " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(m.encode()).digest()).decode()}'"
                    for m in pattern.findall(html))


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


class AdminPages:
    """The page and its API over one engine's conversation store and the store's index (for the clusters)."""

    def __init__(self, engine: Any, index: Any, token: str):
        self.engine = engine
        self.index = index
        self.token = token
        self.html = PAGE.read_text(encoding="utf-8")
        # only the page's own script and style run: nothing injected into it could execute
        self.headers = {
            "Content-Security-Policy": f"default-src 'none'; script-src {_hashes(_SCRIPT, self.html)}; "
                                       f"style-src {_hashes(_STYLE, self.html)}; connect-src 'self'; "
                                       "img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; "
                                       "form-action 'none'",
            "Cache-Control": "no-store", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff"}

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/admin", self.page)
        app.router.add_get("/admin/api/report", self.report)

    def refusal(self, request: web.Request) -> web.Response | None:
        """None when the request carries the admin token in its `Authorization` header, else the error."""
        if not self.token:
            return error_response("not_configured", NOT_CONFIGURED, 404)
        header = request.headers.get("Authorization", "")
        offered = header[7:].strip() if header[:7].lower() == "bearer " else ""
        if not hmac.compare_digest(_bytes(offered), _bytes(self.token)):
            detail = ("send the admin token in the Authorization header (Bearer), never in the address"
                      if not offered and "token" in request.query else "a valid admin token is required")
            return error_response("unauthorized", detail, 401)
        return None

    async def page(self, request: web.Request) -> web.Response:
        if not self.token:
            return web.Response(status=404, text=NOT_CONFIGURED, content_type="text/plain")
        return web.Response(text=self.html, content_type="text/html", headers=self.headers)

    async def report(self, request: web.Request) -> web.Response:
        if (refusal := self.refusal(request)) is not None:
            return refusal
        try:
            since = parse_when(request.query["since"], "since") if request.query.get("since") else None
            until = parse_when(request.query["until"], "until") if request.query.get("until") else None
        except ValueError as exc:
            return error_response("invalid_period", str(exc))
        store = self.engine.store
        embed = index_embed(self.index) if self.index is not None else None
        nearest = index_nearest(self.index) if self.index is not None else None
        try:
            report = await asyncio.to_thread(build_report, store, since, until, embed, nearest)
        except StateUnavailable:
            return error_response("unavailable", "the conversation store cannot be reached; try again shortly", 503)
        return web.json_response(report, headers={"Cache-Control": "no-store"})
