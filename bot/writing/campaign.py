"""`shopbot write campaign`: a campaign draft for a group of customers, from the store's facts only.

The segment is plain words, resolved against the store's own data: what they did ("bought", "viewed", "added to
cart", or any activity when no verb is given), with which products ("a tent", "running shoes", "anything from
Kestrel", a product's name; any product when none is named) and when ("in the last 90 days", "in the past 2
weeks"). Orders come from `orders.json` (cancelled orders are no purchase), behaviour from `history.csv`. The draft
says how many customers match, never who: no name, email or id of a customer is written.

The message is a subject line and a few sentences about the product(s), each traced to the product's facts or
the store's (`Tracer`); a promo code appears only when the store's facts hold one, and a first-order code only for
a segment that is not defined by purchases.

>>> segment = parse_segment("bought a tent in the last 90 days", kb, as_of)
>>> audience = match_audience(segment, kb, orders)
>>> audience.order_customers, audience.history_shoppers   # counted apart: the two share no ids
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.generation.base import TextGenerator
from bot.writing.copy import Candidate, CopyWriter, templates
from bot.writing.descriptions import DescriptionWriter
from bot.writing.facts import Fact, ProductFacts, money, product_facts, store_promotions
from bot.writing.tracing import Tracer
from retrieval.documents import Product
from retrieval.text import keyword_tokens

ACTIONS = {
    "purchased": re.compile(r"\b(?:bought|buy|buys|buying|purchased|purchase[sd]?|ordered|order(?:ed)?|buyers?)\b"),
    "viewed": re.compile(r"\b(?:viewed|view(?:ed|s)?|looked at|browsed|visited|clicked(?: on)?|saw)\b"),
    "cart": re.compile(r"\b(?:added|carted|abandoned|left)\b(?=.*\b(?:cart|basket)s?\b)"),
}
HISTORY_EVENTS = {"purchased": ("purchased",), "viewed": ("product_viewed", "card_clicked"),
                  "cart": ("added_to_cart",)}
WINDOW = re.compile(r"\b(?:in|within|during|over|from)\s+the\s+(?:last|past)\s+(\d+|a|an|one|two|three|four|six|"
                    r"twelve)?\s*(day|week|month|year)s?\b")
WINDOW_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "six": 6, "twelve": 12}
UNIT_DAYS = {"day": 1, "week": 7, "month": 30, "year": 365}
FILLER = set(keyword_tokens("customers customer shoppers shopper people users who that have has had something "
                            "anything any item items product products stuff thing things a an the some one from by "
                            "of in and or recently ever their our store"))
NOT_SPENT = ("cancelled",)
MAX_PRODUCTS = 2


class SegmentError(ValueError):
    """A segment the store's data cannot resolve (the message says what was understood and what was not)."""


@dataclass
class Segment:
    """What a segment's words mean: actions (empty: any activity), products (None: any) and the window."""

    text: str
    actions: tuple[str, ...] = ()
    products: list[Product] | None = None
    product_phrase: str = ""
    since: datetime | None = None
    as_of: datetime = field(default_factory=lambda: datetime.now(UTC))

    def describe(self) -> str:
        did = " or ".join({"purchased": "bought", "viewed": "viewed", "cart": "added to cart"}[a]
                          for a in self.actions) or "any order or recorded activity"
        what = (f"{len(self.products)} products matching '{self.product_phrase}'" if self.products is not None
                else "any product")
        when = f"since {self.since.date().isoformat()}" if self.since else "at any time"
        return f"{did}; {what}; {when} (as of {self.as_of.date().isoformat()})"


@dataclass
class Audience:
    """How many customers match, by data source (no personal data)."""

    order_customers: int = 0
    history_shoppers: int = 0
    matched_products: list[str] = field(default_factory=list)  # the products their activity involved, most first

    @property
    def total(self) -> int:
        return self.order_customers + self.history_shoppers


def _window(text: str, as_of: datetime) -> datetime | None:
    match = WINDOW.search(text)
    if match is None:
        return None
    amount = match.group(1) or "1"
    count = int(amount) if amount.isdigit() else WINDOW_WORDS[amount]
    return as_of - timedelta(days=count * UNIT_DAYS[match.group(2)])


def resolve_products(phrase: str, products: list[Product]) -> list[Product] | None:
    """The products a phrase names: a title, else the most specific field that holds all its words (kind, then
    title, category, brand, tags). None when the phrase names nothing (any product); [] when nothing matches."""
    wanted = [t for t in keyword_tokens(phrase) if t not in FILLER]
    if not wanted:
        return None
    lowered = phrase.lower()
    titled = [p for p in products if p.title.lower() in lowered]
    if titled:
        return titled
    fields = (lambda p: p.subcategory, lambda p: p.title, lambda p: p.category, lambda p: p.brand,
              lambda p: " ".join(p.tags))
    for read in fields:
        found = [p for p in products if set(wanted) <= set(keyword_tokens(read(p) or ""))]
        if found:
            return found
    return []


def parse_segment(text: str, kb: Any, as_of: datetime | None = None) -> Segment:
    """Understand a segment's words against the store's catalog; `SegmentError` when a product phrase matches
    nothing."""
    as_of = as_of or datetime.now(UTC)
    lowered = " ".join(text.lower().split())
    if not lowered:
        raise SegmentError("the segment is empty: say who, e.g. \"bought a tent in the last 90 days\"")
    actions = tuple(name for name, pattern in ACTIONS.items() if pattern.search(lowered))
    since = _window(lowered, as_of)
    rest = WINDOW.sub(" ", lowered)
    for pattern in ACTIONS.values():
        rest = pattern.sub(" ", rest)
    rest = re.sub(r"\b(?:to|in) (?:their|the|a) (?:cart|basket)s?\b|\b(?:cart|basket)s?\b", " ", rest)
    products = resolve_products(rest, kb.products)
    if products == []:
        raise SegmentError(f"no product of the catalog matches '{rest.strip()}' in the segment \"{text}\" (name a "
                           f"kind such as '{kb.products[0].subcategory}', a category such as "
                           f"'{kb.products[0].category}', a brand or a product)")
    return Segment(text, actions, products, " ".join(rest.split()), since, as_of)


def _moment(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def match_audience(segment: Segment, kb: Any, orders: list[dict[str, Any]]) -> Audience:
    """Count the customers (orders) and shoppers (history) whose activity matches the segment."""
    wanted = {p.id for p in segment.products} if segment.products is not None else None
    counts: dict[str, int] = {}

    def in_window(moment: datetime | None) -> bool:
        return moment is not None and (segment.since is None or segment.since <= moment) and moment <= segment.as_of

    customers: set[str] = set()
    if not segment.actions or "purchased" in segment.actions:
        for order in orders:
            if str(order.get("status", "")).lower() in NOT_SPENT or not in_window(_moment(order.get("placed_at"))):
                continue
            items = [str(i.get("product_id", "")) for i in order.get("items") or [] if isinstance(i, dict)]
            hits = [i for i in items if wanted is None or i in wanted]
            if hits:
                customers.add(str(order.get("customer_id") or order.get("email") or order.get("id")))
                for item in hits:
                    counts[item] = counts.get(item, 0) + 1
    events = {e for a in (segment.actions or tuple(HISTORY_EVENTS)) for e in HISTORY_EVENTS[a]}
    shoppers: set[str] = set()
    for event in getattr(kb, "history", []) or []:
        if event.event in events and (wanted is None or event.product_id in wanted) and in_window(event.timestamp):
            shoppers.add(event.shopper)
            counts[event.product_id] = counts.get(event.product_id, 0) + 1
    ranked = sorted(counts, key=lambda i: (-counts[i], i))
    return Audience(len(customers), len(shoppers), ranked)


def pick_products(segment: Segment, audience: Audience, kb: Any, named: list[str] | None = None) -> list[Product]:
    """The product the message is about: those named; else, for buyers of some products, the best of the
    categories that go with theirs (`categories.yml`); else the best of the segment's products, or of the store
    (in stock first, then rating weighted by review count)."""
    if named:
        unknown = [i for i in named if kb.product(i) is None]
        if unknown:
            raise SegmentError(f"unknown product id(s): {', '.join(unknown)}")
        return [kb.product(i) for i in named]
    pool = segment.products if segment.products is not None else list(kb.products)
    if segment.products is not None and "purchased" in segment.actions:
        bought = {p.category for p in segment.products}
        goes_with = {c for name in bought if name in kb.categories for c in kb.categories[name].goes_with}
        complements = [p for p in kb.products if p.category in goes_with - bought]
        pool = complements or pool

    def score(product: Product) -> tuple:
        return (product.in_stock, (product.rating or 0) * math.log1p(product.review_count or 0), product.id)

    return sorted(pool, key=score, reverse=True)[:1]


@dataclass
class CampaignDraft:
    """A campaign draft: the segment understood, the audience counted, the subject, the message and its trace."""

    segment: Segment
    audience: Audience
    products: list[Product]
    subject: Candidate | None = None
    body: list[Candidate] = field(default_factory=list)
    dropped: list[Candidate] = field(default_factory=list)
    promo: str | None = None

    @property
    def text(self) -> str:
        return " ".join(c.text for c in self.body)

    def to_dict(self) -> dict[str, Any]:
        return {"segment": self.segment.text, "understood": self.segment.describe(),
                "audience": {"orders_json_customers": self.audience.order_customers,
                             "history_shoppers": self.audience.history_shoppers, "total": self.audience.total},
                "products": [p.id for p in self.products],
                "subject": self.subject.to_dict() if self.subject else None,
                "message": self.text, "sentences": [c.to_dict() for c in self.body],
                "dropped": [c.to_dict() for c in self.dropped], "promo_code": self.promo}

    def to_markdown(self) -> str:
        a = self.audience
        lines = ["# Campaign draft", "", "_A draft for review: nothing has been sent. Customers are counted, never "
                 "named._", "", f"- Segment: \"{self.segment.text}\"", f"- Understood as: {self.segment.describe()}",
                 f"- Matching customers: {a.total} ({a.order_customers} from orders, {a.history_shoppers} from the "
                 "browsing history; the two are counted apart, as they have no shared ids)",
                 f"- Products: {', '.join(f'{p.title} ({p.id})' for p in self.products)}",
                 f"- Promo code: {self.promo or 'none (the store facts hold none that fits)'}", "",
                 f"**Subject:** {self.subject.text if self.subject else ''}", "", self.text, "",
                 "## Sentences and their sources", ""]
        rows = ([self.subject] if self.subject else []) + self.body
        for c in rows:
            lines.append(f"- {c.text}  \n  _{c.origin}; sources: {', '.join(c.trace.sources)}_")
        lines += ["", "## Dropped sentences", ""] + ([f"- {c.text}  \n  _{c.origin}: {'; '.join(c.trace.reasons)}_"
                                                       for c in self.dropped] or ["None."])
        return "\n".join(lines) + "\n"

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"


class CampaignWriter:
    """Writes a campaign draft with the LM (subject candidates and the product sentences), templates as the
    fallback, every sentence traced to the products' and the store's facts."""

    def __init__(self, kb: Any, orders: list[dict[str, Any]], generator: TextGenerator | None = None,
                 candidates: int = 2):
        self.kb = kb
        self.orders = orders
        self.descriptions = DescriptionWriter(kb, generator, candidates)
        self.copy = CopyWriter(generator, kb.name, candidates)

    async def write(self, segment_text: str, product_ids: list[str] | None = None,
                    as_of: datetime | None = None) -> CampaignDraft:
        segment = parse_segment(segment_text, self.kb, as_of)
        audience = match_audience(segment, self.kb, self.orders)
        products = pick_products(segment, audience, self.kb, product_ids)
        draft = CampaignDraft(segment, audience, products)
        facts = [product_facts(p, self.kb) for p in products]
        promotions = store_promotions(self.kb.facts)
        code = self._promo(promotions, segment)
        pool: list[Fact] = [f for pf in facts for f in pf.facts] + promotions
        tracer = Tracer(pool, self.descriptions.names, self.descriptions.contrast, allowed=[self.kb.name],
                        vocabulary=self.descriptions.vocabulary)
        draft.subject = self._subject(facts[0], tracer, draft)
        for pf in facts:
            plan = templates(pf)
            for group in ("intro", "highlights", "proof"):
                if group in plan:
                    result = await self.copy.group(group, pf, tracer, plan[group][:1], [c.text for c in draft.body])
                    draft.body += result.kept
                    draft.dropped += [c for c in result.candidates if not c.trace.supported]
        shipping = [s for s in templates(facts[0]).get("store", []) if "ship" in s][:1]
        for pf in facts:
            if len(facts) > 1 or not (shipping and shipping[0].startswith("At ")):
                text = f"The {pf.product.title} is {money(pf.product.price, pf.product.currency)}."
                draft.body.append(Candidate(text, "price", "template", tracer.trace(text), True, True))
        if len(products) > 1 and shipping:
            shipping = [re.sub(r"^At \$[\d,.]+, it ships free: ", "", shipping[0]).capitalize()]
        for text in shipping:
            draft.body.append(Candidate(text, "store", "template", tracer.trace(text), True, True))
        if code is not None:
            draft.promo = code[0]
            draft.body.append(Candidate(code[1], "promo", "template", tracer.trace(code[1]), True, True))
        kept = [c for c in draft.body if c.trace.supported]
        draft.dropped += [c for c in draft.body if not c.trace.supported]
        draft.body = kept
        return draft

    def _subject(self, pf: ProductFacts, tracer: Tracer, draft: CampaignDraft) -> Candidate:
        """A subject line: the product's name and kind (a template, traced like every sentence)."""
        product = pf.product
        kind = product.subcategory or product.category
        text = f"The {product.title}: {kind} from {product.brand}" if product.brand else f"The {product.title}: {kind}"
        candidate = Candidate(text, "subject", "template", tracer.trace(text + "."), True, True)
        if not candidate.trace.supported:
            draft.dropped.append(candidate)
            candidate = Candidate(product.title, "subject", "template", tracer.trace(f"The {product.title}."), True,
                                  True)
        return candidate

    @staticmethod
    def _promo(promotions: list[Fact], segment: Segment) -> tuple[str, str] | None:
        """A promo code sentence from the store's facts: a welcome (first-order) code, only for a segment not
        defined by purchases (they have ordered before)."""
        for fact in promotions:
            match = re.search(r"code: ([A-Z0-9]{3,})", fact.text)
            if match is None:
                continue
            first_order = re.search(r"first order", fact.text, re.IGNORECASE)
            if first_order and "purchased" in segment.actions:
                continue
            discount = re.search(r"discount: ([^;]+)", fact.text)
            how = re.search(r"how: ([^;]+)", fact.text)
            if discount is None:
                continue
            sentence = f"{how.group(1).strip().rstrip('.')} for {discount.group(1).strip()} with " \
                       f"{match.group(1)}." if how else f"Use {match.group(1)} for {discount.group(1).strip()}."
            return match.group(1), sentence
        return None
