"""Honest words for a product search that found no match: what the store does not have, and what each product
offered instead really is ("We don't have any trail running shoes under $100. The cheapest we have is the Trailhead
TR at $110.95; under $100 there are road running shoes instead, which are not trail running shoes.").

Nothing here passes an alternative off as a match: every card it labels says how it differs from the request.
"""

from __future__ import annotations

from dataclasses import replace

from retrieval.filters import ProductFilters
from retrieval.matching import plural
from retrieval.money import money
from retrieval.products import ProductHit, ProductResults
from retrieval.text import keyword_tokens


def limits(filters: ProductFilters, currency: str = "USD") -> str:
    """The filters in words, the category left out (the shopper's own words name the kind): "under $100"."""
    return replace(filters, categories=(), exclude_ids=()).describe(currency)


def wanted(results: ProductResults, features: bool = True) -> str:
    """What the shopper asked for, in their words, plural: "trail running shoes" ("products" when unnamed); with
    `features=False` the required features' words are left out ("headphones" for "waterproof headphones")."""
    request = results.request
    if request is None or not request.content:
        return "products"
    words = list(request.content)
    if not features:
        feature_stems = {s for name in request.features for s in keyword_tokens(name.replace("-", " "))}
        words = [w for w in words if not set(keyword_tokens(w.replace("-", " "))) <= feature_stems] or words
    return plural(" ".join(words))


def _within(filters: ProductFilters, currency: str = "USD") -> str:
    described = limits(filters, currency)
    if not described:
        return ""
    return described if "," not in described else f"({described})"


def _names(hits: list[ProductHit], kind: bool = False) -> str:
    """"the Trailhead TR ($110.95)", with `kind` "the Polaris Snow Boot (winter boots, $146.99)"."""
    titles = [f"the {h.product.title} ({h.product.subcategory + ', ' if kind and h.product.subcategory else ''}"
              f"{money(h.product.price, h.product.currency)})" for h in hits]
    return titles[0] if len(titles) == 1 else ", ".join(titles[:-1]) + " and " + titles[-1]


def _kinds(hits: list[ProductHit]) -> str:
    kinds = list(dict.fromkeys(plural(h.product.subcategory or h.product.category) for h in hits))
    return kinds[0] if len(kinds) == 1 else ", ".join(kinds[:-1]) + " and " + kinds[-1]


def honest_lead(results: ProductResults, refined: bool = False, categories: list[str] | None = None) -> str | None:
    """The lead sentence when the search found no match (None when it did: the usual lead applies)."""
    if results.outcome == "match":
        return None
    unknown = " I don't have stock information for these." if results.stock_unknown else ""
    if results.outcome == "no_kind":
        sold = [c.lower() for c in categories or []]
        offer = f" We sell {', '.join(sold[:-1])} and {sold[-1]}." if len(sold) > 1 else \
            (f" We sell {sold[0]}." if sold else "")
        return f"Sorry, we don't carry {wanted(results)}.{offer}"
    within = _within(results.filters, results.currency)
    if results.outcome == "no_feature":
        features = " or ".join(results.request.features) if results.request else ""
        head = f"None of our {wanted(results, features=False)}{' ' + within if within else ''} are {features}."
    else:
        head = f"We don't have any {wanted(results)}{' ' + within if within else ''}."
    if refined:   # "cheaper?" with nothing cheaper left: the refinement found nothing, said as such
        head = f"There are no other options: {head[0].lower()}{head[1:]}"
    parts: list[str] = []
    for group in results.alternatives:
        if group.kind == "nearest_price":
            parts.append(f"the closest in price {'is' if len(group.hits) == 1 else 'are'} "
                         f"{_names(group.hits, kind=True)}")
        elif group.kind == "relaxed":
            parts.append(f"the nearest {wanted(results)} we have, not {limits(results.filters, results.currency) or 'as asked'}, are "
                         f"{_names(group.hits)}")
        elif group.kind == "without_feature":
            parts.append(f"{wanted(results, features=False)} without that: {_names(group.hits)}")
        else:
            parts.append(f"{within + ' ' if within else ''}there are {_kinds(group.hits)} instead (not "
                         f"{wanted(results)})")
    if not parts:
        return head + unknown
    said = "; ".join(parts)
    return f"{head} {said[0].upper()}{said[1:]}.{unknown}"


def alternative_cards(results: ProductResults) -> list[tuple[ProductHit, str]]:
    """Each product offered instead of a match, with a reason that says what it is and how it differs."""
    out: list[tuple[ProductHit, str]] = []
    filters = results.filters
    request = results.request
    for group in results.alternatives:
        for hit in group.hits:
            product = hit.product
            kind = product.subcategory or product.category
            if group.kind == "nearest_price":
                if filters.max_price is not None and product.price > filters.max_price:
                    side = f"over your {money(filters.max_price, results.currency, whole=True)} limit"
                elif filters.min_price is not None and product.price < filters.min_price:
                    side = f"under your {money(filters.min_price, results.currency, whole=True)} minimum"
                else:
                    side = "nearest in price"
                reason = f"closest {kind} in price: {money(product.price, product.currency)}, {side}"
            elif group.kind == "relaxed":
                reason = f"{kind}, not {limits(filters, results.currency) or 'as asked'}"
            elif group.kind == "without_feature":
                missing = request.missing(product) if request else []
                listed = [m if isinstance(product.attributes.get(m.replace(' ', '_').replace('-', '_')), bool)
                          else f"listed as {m}" for m in missing]
                reason = f"{kind}, not {' or '.join(listed)}" if listed else kind
            else:
                reason = f"{kind}, not {wanted(results)}: {money(product.price, product.currency)}"
            out.append((hit, reason))
    return out
