"""A review question answered in words, from the counts alone: what people say, whether it is true to size,
complaints, whether it is really waterproof. Every number in it is counted by `insights`; every quote is a review
sentence with its review id. (The LM's short summary, when there is one, is added by the caller, guarded.)

>>> focus = question_focus("is the Tern Road Runner 3 true to size?")      # "fit"
>>> render_answer(insights.for_product("P1001"), focus)
"""

from __future__ import annotations

import re

from retrieval.reviews.insights import ASPECT_WORDS, ProductInsights, Quote

FOCUS = {"fit": re.compile(r"\b(?:true to size|fit|fits|fitting|sizing|size|run(?:s)? (?:small|large|big)|"
                           r"order (?:a )?size|tight|snug)\b", re.IGNORECASE),
         "waterproofing": re.compile(r"\b(?:waterproof\w*|leak\w*|rain|wet|dry|water ?tight|water)\b", re.IGNORECASE),
         "complaints": re.compile(r"\b(?:complain\w*|problems?|issues?|cons|negative|bad reviews?|downsides?|"
                                  r"wrong|drawbacks?|dislike\w*)\b", re.IGNORECASE)}


def question_focus(text: str) -> str:
    """What a review question asks about: "fit", "waterproofing", "complaints", else "overview"."""
    for focus, pattern in FOCUS.items():
        if pattern.search(text):
            return focus
    return "overview"


def _quoted(quote: Quote) -> str:
    return f"\u201c{quote.text}\u201d (review {quote.review_id})"


def _percent(part: int, whole: int) -> str:
    return f"{round(100 * part / whole)}%" if whole else "0%"


def headline(found: ProductInsights) -> str:
    """Count and share positive: "The X has 16 reviews, 3.9/5 on average: 10 of 16 (62%) positive ..."."""
    if not found.total:
        return f"The {found.title} has no reviews yet."
    noun = "review" if found.total == 1 else "reviews"
    return (f"The {found.title} has {found.total} {noun}, {found.average:g}/5 on average: {found.positive} of "
            f"{found.total} ({_percent(found.positive, found.total)}) are positive (4-5 stars) and "
            f"{found.negative} negative (1-2 stars).")


def _pros_and_cons(found: ProductInsights, cons_only: bool = False) -> list[str]:
    lines = []
    if not cons_only:
        for quote in found.pros:
            count = found.aspect(quote.aspect).positive
            lines.append(f"Liked: {ASPECT_WORDS[quote.aspect]} ({count} {'review' if count == 1 else 'reviews'}), "
                         f"{_quoted(quote)}.")
    for quote in found.cons:
        count = found.aspect(quote.aspect).negative
        lines.append(f"Complaints: {ASPECT_WORDS[quote.aspect]} ({count} {'review' if count == 1 else 'reviews'}), "
                     f"{_quoted(quote)}.")
    return lines


def render_answer(found: ProductInsights, focus: str) -> str:
    """The counted answer, one line per point."""
    if not found.total:
        return headline(found)
    lines: list[str]
    contradictions = [c for c in found.contradictions
                      if focus in ("overview", "complaints") or (focus == "fit") == (c.kind == "fit")]
    if focus == "fit":
        fit = found.aspect("fit")
        if not fit.reviews:
            lines = [f"None of the {found.total} reviews of the {found.title} mention fit or sizing."]
        else:
            lines = [f"Of the {found.total} reviews of the {found.title}, {fit.reviews} mention fit: "
                     f"{found.runs_small} say it runs small, {found.runs_large} say it runs large and "
                     f"{found.true_to_size} say it is true to size."]
        if not contradictions:
            quote = next((q for q in found.pros + found.cons if q.aspect == "fit"), None)
            lines += [f"For example: {_quoted(quote)}."] if quote else []
    elif focus == "waterproofing":
        page = {True: f"The page says the {found.title} is waterproof.",
                False: f"The page says the {found.title} is not waterproof.",
                None: f"The page does not say whether the {found.title} is waterproof."}[found.page_waterproof]
        lines = [page, f"Of its {found.total} reviews, {found.leaks} report leaks and {found.stayed_dry} say it "
                       f"kept them dry."]
    elif focus == "complaints":
        lines = [f"{found.negative} of the {found.total} reviews of the {found.title} are negative (1-2 stars)."]
        lines += _pros_and_cons(found, cons_only=True) or ["No aspect gets complaints in them."]
    else:
        lines = [headline(found)] + _pros_and_cons(found)
    lines += [c.text + (f" For example: {_quoted(c.quote)}." if c.quote else "") for c in contradictions]
    if focus in ("fit", "waterproofing"):
        lines.append(headline(found))
    return " ".join(lines)
