"""The demo storefront, the widget script, product images and the agent console page."""

from __future__ import annotations

from html import escape
from pathlib import Path

from aiohttp import web

from retrieval.loaders import KnowledgeBase

HERE = Path(__file__).resolve().parent


def storefront_html(kb: KnowledgeBase, token: str = "") -> str:
    """A page listing the store's products, with the chat widget on it."""
    cards = []
    for product in kb.products:
        image = "/" + product.image.lstrip("/") if product.image and not product.image.startswith("http") \
            else escape(product.image or "")
        cards.append(f'<div class="product" data-id="{escape(product.id)}"><img src="{image}" alt="" loading="lazy">'
                     f'<div class="title">{escape(product.title)}</div><div class="brand">{escape(product.brand or "")}'
                     f'</div><div class="price">${product.price:.2f}</div></div>')
    token_attr = f' data-token="{escape(token)}"' if token else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(kb.name)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{{margin:0;font:15px/1.4 system-ui,sans-serif;color:#222;background:#fafaf8}}
header{{background:#1f3b2f;color:#fff;padding:18px 28px}}header h1{{margin:0;font-size:22px}}
main{{display:grid;grid-template-columns:repeat(auto-fill,minmax(180px,1fr));gap:16px;padding:24px 28px}}
.product{{background:#fff;border:1px solid #e4e4df;border-radius:10px;padding:10px}}
.product img{{width:100%;height:140px;object-fit:contain;background:#f0f1ee;border-radius:8px}}
.title{{font-weight:600;margin-top:6px}}.brand{{color:#666;font-size:13px}}.price{{color:#1f6f50;font-weight:600}}
</style></head>
<body><header><h1>{escape(kb.name)}</h1><div>{len(kb.products)} products. Questions? Chat with us (bottom right).</div></header>
<main>{"".join(cards)}</main>
<script src="/widget.js"{token_attr} data-title="{escape(kb.name)} help" defer></script>
</body></html>"""


def add_routes(app: web.Application, kb: KnowledgeBase, token: str = "") -> None:
    """`/` (storefront), `/widget.js`, `/agent` and the store's images under `/images/`."""
    page = storefront_html(kb, token)

    async def storefront(request: web.Request) -> web.Response:
        return web.Response(text=page, content_type="text/html")

    async def widget(request: web.Request) -> web.FileResponse:
        return web.FileResponse(HERE / "widget.js", headers={"Content-Type": "application/javascript",
                                                             "Access-Control-Allow-Origin": "*"})

    async def agent(request: web.Request) -> web.FileResponse:
        return web.FileResponse(HERE / "agent.html")

    app.router.add_get("/", storefront)
    app.router.add_get("/widget.js", widget)
    app.router.add_get("/agent", agent)
    images = kb.root / "images"
    if images.is_dir():
        app.router.add_static("/images/", images, follow_symlinks=False)
