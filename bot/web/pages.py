"""The demo storefront (a product list and a page per product with "Add to cart"), the widget script, product
images and the agent console page. The product pages report views and cart additions through the widget's
`shopbot.track`, which sends them only once the shopper has consented."""

from __future__ import annotations

from html import escape
from pathlib import Path

from aiohttp import web

from retrieval.documents import Product
from retrieval.loaders import KnowledgeBase

HERE = Path(__file__).resolve().parent
PRODUCT_PATH = "/products/"
PLACEHOLDER = "/widget/placeholder.svg"   # shown for a product with no image, or one whose image fails to load
# an image that fails to load shows the placeholder (never a broken-image icon or alt text)
ON_ERROR = f"this.onerror=null;this.src='{PLACEHOLDER}'"
# prices are written as "129.00 EUR" and formatted by the browser in the store's currency (Intl.NumberFormat)
PRICE_SCRIPT = """<script>
document.querySelectorAll("[data-currency]").forEach(function (node) {
  try {
    node.textContent = new Intl.NumberFormat(document.documentElement.lang || undefined,
      {style: "currency", currency: node.dataset.currency}).format(Number(node.dataset.amount));
  } catch (e) { /* an unknown currency keeps "129.00 XYZ" */ }
});
</script>"""


def product_path(product: Product) -> str:
    """Where the demo storefront shows a product: the catalog's `url` when it is a path under `/products/`
    (so the widget's cards link there), else `/products/<id>`."""
    return product.url if product.url.startswith(PRODUCT_PATH) else PRODUCT_PATH + product.id


def _image(product: Product) -> str:
    """The product's image URL, or the placeholder when it has none."""
    if not product.image:
        return PLACEHOLDER
    return "/" + escape(product.image.lstrip("/")) if not product.image.startswith("http") else escape(product.image)


def _price(product: Product) -> str:
    """The price as a node the page script formats in the product's currency ("129.00 EUR" until then)."""
    currency = escape((product.currency or "USD").upper())
    return f'data-amount="{product.price:.2f}" data-currency="{currency}">{product.price:,.2f} {currency}'


def _widget_tag(kb: KnowledgeBase, token: str) -> str:
    token_attr = f' data-token="{escape(token)}"' if token else ""
    return f'<script src="/widget.js"{token_attr} data-title="{escape(kb.name)} help" defer></script>'


def storefront_html(kb: KnowledgeBase, token: str = "") -> str:
    """A page listing the store's products, each linking to its page, with the chat widget on it."""
    cards = []
    for product in kb.products:
        cards.append(f'<div class="product" data-id="{escape(product.id)}"><a href="{escape(product_path(product))}">'
                     f'<img src="{_image(product)}" alt="" loading="lazy" onerror="{ON_ERROR}"><div class="title">'
                     f'{escape(product.title)}</div></a><div class="brand">{escape(product.brand or "")}'
                     f'</div><div class="price" {_price(product)}</div></div>')
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
.product a{{color:inherit;text-decoration:none}}
</style></head>
<body><header><h1>{escape(kb.name)}</h1><div>{len(kb.products)} products. Questions? Chat with us (bottom right).</div></header>
<main>{"".join(cards)}</main>
{PRICE_SCRIPT}
{_widget_tag(kb, token)}
</body></html>"""


def product_html(kb: KnowledgeBase, product: Product, token: str = "") -> str:
    """One product's page: its facts and an "Add to cart" button; it tracks the view and the cart addition
    (`shopbot.track`, which the widget sends only with the shopper's consent)."""
    facts = [f"{escape(product.brand)}" if product.brand else "", escape(product.category),
             escape(product.availability)]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(product.title)} | {escape(kb.name)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{{margin:0;font:15px/1.4 system-ui,sans-serif;color:#222;background:#fafaf8}}
header{{background:#1f3b2f;color:#fff;padding:18px 28px}}header a{{color:#fff}}
article{{display:flex;gap:28px;padding:24px 28px;flex-wrap:wrap}}
article img{{width:320px;max-width:100%;height:280px;object-fit:contain;background:#f0f1ee;border-radius:10px}}
.price{{color:#1f6f50;font-weight:600;font-size:20px}}.facts{{color:#666}}
#add-to-cart{{background:#1f6f50;color:#fff;border:0;border-radius:8px;padding:10px 18px;font:inherit;cursor:pointer}}
</style></head>
<body data-product="{escape(product.id)}"><header><a href="/">{escape(kb.name)}</a></header>
<article><img src="{_image(product)}" alt="" onerror="{ON_ERROR}">
<div><h1 class="title">{escape(product.title)}</h1><div class="facts">{" &middot; ".join(f for f in facts if f)}</div>
<p class="price" {_price(product)}</p><p>{escape(product.description)}</p>
<button id="add-to-cart" type="button">Add to cart</button> <span id="cart-status" aria-live="polite"></span></div>
</article>
{PRICE_SCRIPT}
{_widget_tag(kb, token)}
<script>
document.addEventListener("DOMContentLoaded", function () {{
  var id = document.body.dataset.product;
  if (window.shopbot) window.shopbot.track("product_viewed", id);
  document.getElementById("add-to-cart").addEventListener("click", function () {{
    document.getElementById("cart-status").textContent = "Added to your cart.";
    if (window.shopbot) window.shopbot.track("added_to_cart", id);
  }});
}});
</script>
</body></html>"""


def add_routes(app: web.Application, kb: KnowledgeBase, token: str = "") -> None:
    """`/` (storefront), `/products/...` (a page per product), `/widget.js`, `/agent`, the placeholder image
    (`/widget/placeholder.svg`) and the store's images under `/images/`."""
    page = storefront_html(kb, token)
    products = {product_path(p)[len(PRODUCT_PATH):]: p for p in kb.products}
    products.update({p.id: p for p in kb.products if p.id not in products})

    async def storefront(request: web.Request) -> web.Response:
        return web.Response(text=page, content_type="text/html")

    async def product_page(request: web.Request) -> web.Response:
        product = products.get(request.match_info["key"])
        if product is None:
            return web.Response(status=404, text="No such product.", content_type="text/plain")
        return web.Response(text=product_html(kb, product, token), content_type="text/html")

    async def widget(request: web.Request) -> web.FileResponse:
        return web.FileResponse(HERE / "widget.js", headers={"Content-Type": "application/javascript",
                                                             "Access-Control-Allow-Origin": "*"})

    async def agent(request: web.Request) -> web.FileResponse:
        return web.FileResponse(HERE / "agent.html")

    async def placeholder(request: web.Request) -> web.FileResponse:
        return web.FileResponse(HERE / "placeholder.svg", headers={
            "Content-Type": "image/svg+xml", "Cache-Control": "public, max-age=86400",
            "Access-Control-Allow-Origin": "*"})

    app.router.add_get("/", storefront)
    app.router.add_get(PRODUCT_PATH + "{key}", product_page)
    app.router.add_get("/widget.js", widget)
    app.router.add_get("/agent", agent)
    app.router.add_get(PLACEHOLDER, placeholder)
    images = kb.root / "images"
    if images.is_dir():
        app.router.add_static("/images/", images, follow_symlinks=False)
