"""Sentences of product copy, one per fact group: the LM's candidates (few-shot prompts built from facts) and a
deterministic template for each group, every one traced; the best supported candidate wins.

The LM (the project's text generator, `bot.generation`) writes greedily, so its candidates differ by prompt: each
variant shows it other worked examples. A candidate is used only when it is supported (`Tracer`) and mentions
every fact of its group; otherwise the group's template sentence is used, so every product gets complete copy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.generation.base import Prompt, TextGenerator, collect
from bot.responder.grounding import numbers_in, split_sentences
from bot.writing.facts import Fact, ProductFacts, gender_word, join_and, money
from bot.writing.tracing import NEGATION, Trace, Tracer
from retrieval.text import keyword_tokens

PAIRS = ("shoes", "boots", "sandals", "socks", "gloves", "pants", "shorts", "tights", "joggers", "sunglasses",
         "poles", "bottoms", "leggings", "headphones", "earbuds")
SIZE_ORDER = ["XXS", "XS", "S", "M", "L", "XL", "XXL", "XXXL"]
SYSTEM = ("You write product copy for {store}. Write exactly one short sentence from the facts. Use only the facts: "
          "copy names and numbers exactly as written, and add nothing else.")
# The groups the LM writes candidates for; colours and sizes, the rating and the store's terms are formulas the
# templates state exactly (the LM rarely listed every colour and size, and added nothing but risk there).
LM_GROUPS = ("intro", "highlights", "build", "features")

# Worked examples per group, two variants: invented products, so a copied name is caught as unsupported.
EXAMPLES: dict[str, list[list[tuple[str, str]]]] = {
    "intro": [
        [("name: Orvik Ridge Pack 28\nbrand: Orvik Ridge Pack 28 is made by Halvard\ntype: daypack (category Bags)",
          "The Orvik Ridge Pack 28 from Halvard is a daypack."),
         ("name: Quenby Trail Glove\nbrand: Quenby Trail Glove is made by Tamsin Gear\ntype: gloves (category "
          "Accessories)\nmade for: men (men's)", "The Quenby Trail Glove from Tamsin Gear is a pair of men's gloves.")],
        [("name: Quenby Fleece\nbrand: Quenby Fleece is made by Tamsin Gear\ntype: fleece jacket (category "
          "Jackets)\nmade for: women (women's)", "Meet the Quenby Fleece, a women's fleece jacket from Tamsin Gear."),
         ("name: Orvik Lamp 2\nbrand: Orvik Lamp 2 is made by Halvard\ntype: headlamp (category Electronics)",
          "Meet the Orvik Lamp 2, a headlamp from Halvard.")],
    ],
    "highlights": [
        [("The Orvik Ridge Pack 28 is a light daypack built for quick summit hikes. Look for a padded back panel "
          "and two side pockets.", "It is built for quick summit hikes, with a padded back panel and two side "
          "pockets.")],
        [("A brushed lining and a tall collar make the Quenby Fleece a warm layer for winter walks.",
          "A brushed lining and a tall collar make it a warm layer for winter walks.")],
    ],
    "build": [
        [("material: ripstop nylon with a mesh back panel\nweight: 540 g (19.0 oz)",
          "It is made from ripstop nylon with a mesh back panel and weighs 540 g (19.0 oz).")],
        [("material: brushed polyester fleece\nweight: 310 g (10.9 oz)",
          "Made from brushed polyester fleece, it weighs just 310 g (10.9 oz).")],
    ],
    "features": [
        [("waterproof: yes, it is waterproof\ncapacity: 28 L", "It is waterproof and holds 28 L.")],
        [("battery: runs up to 40 hours per charge", "It runs up to 40 hours per charge.")],
    ],
    "options": [
        [("colors: red, blue and black\nsizes: S, M, L and XL", "It comes in red, blue and black, in sizes S to XL.")],
        [("colors: grey and olive\nsizes: 7, 8, 9 and 10", "Choose grey or olive, in sizes 7 to 10.")],
    ],
    "proof": [
        [("rating: 4.4 out of 5 from 52 reviews", "Shoppers rate it 4.4 out of 5 across 52 reviews.")],
        [("rating: 4.1 out of 5 from 17 reviews", "It holds a 4.1 out of 5 rating from 17 reviews.")],
    ],
}


@dataclass
class Candidate:
    """One sentence offered for a group: who wrote it, its trace, and whether it mentions all the group's facts."""

    text: str
    group: str
    origin: str  # "lm" or "template"
    trace: Trace
    complete: bool = False
    chosen: bool = False

    def to_dict(self) -> dict:
        return {"text": self.text, "group": self.group, "origin": self.origin, "sources": self.trace.sources,
                "unsupported": self.trace.unsupported, "reasons": self.trace.reasons}


@dataclass
class GroupResult:
    """The sentences kept for one group, and every candidate tried."""

    group: str
    kept: list[Candidate] = field(default_factory=list)
    candidates: list[Candidate] = field(default_factory=list)


def first_sentence(text: str) -> str:
    """The first complete sentence of the LM's output (one line, ending in . ! or ?), else ""."""
    text = text.strip().split("\n")[0].strip().strip('"').strip()
    sentences = split_sentences(text)
    sentence = sentences[0] if sentences else ""
    return sentence if sentence.endswith((".", "!", "?")) and len(sentence) >= 12 else ""


def _kind_phrase(product_facts: ProductFacts) -> str:
    """"a pair of women's road running shoes", "a daypack", "an insulated jacket"."""
    product = product_facts.product
    kind = (product.subcategory or product.category).strip().lower()
    gender = product_facts.featured.get("gender", ("",))[0]
    words = ([gender_word(gender)] if gender else []) + [kind]
    phrase = " ".join(words)
    if kind.split()[-1] in PAIRS:
        return f"a pair of {phrase}"
    return ("an " if phrase[:1] in "aeio" else "a ") + phrase


def _size_phrase(sizes: tuple[str, ...]) -> str:
    if len(sizes) == 1:
        return "in one size" if sizes[0].lower() == "one size" else f"in size {sizes[0]}"
    numeric = all(re.fullmatch(r"\d+(?:\.\d+)?", s) for s in sizes)
    lettered = all(s.upper() in SIZE_ORDER for s in sizes)
    if len(sizes) >= 4 and (numeric or lettered):
        return f"in sizes {sizes[0]} to {sizes[-1]}"
    return f"in sizes {join_and(sizes)}"


def templates(product_facts: ProductFacts) -> dict[str, list[str]]:
    """The deterministic sentence(s) of each group, built from the facts alone."""
    product = product_facts.product
    featured = product_facts.featured
    out: dict[str, list[str]] = {}
    by = f" from {product.brand}" if product.brand else ""
    out["intro"] = [f"The {product.title}{by} is {_kind_phrase(product_facts)}."]
    highlight = _best_highlight(product_facts)
    if highlight is not None:
        out["highlights"] = [highlight.text]
    material = featured.get("material", ("",))[0]
    weight = next((f for f in product_facts.facts if f.id == "attr:weight_g"), None)
    weight_text = weight.text.split(": ", 1)[1] if weight else ""
    if material and weight_text:
        out["build"] = [f"It is made from {material} and weighs {weight_text}."]
    elif material:
        out["build"] = [f"It is made from {material}."]
    elif weight_text:
        out["build"] = [f"It weighs {weight_text}."]
    parts = []
    for fact in product_facts.in_group("features"):
        if fact.negated:
            continue
        if fact.field == "capacity" and re.fullmatch(r"\d+-person", fact.values[0]):
            parts.append(f"is a {fact.values[0]} {(product.subcategory or 'model').split()[-1]}")  # a 2-person tent
        elif fact.field == "capacity":
            parts.append(f"holds {fact.values[0]}")
        elif fact.field == "battery_hours":
            parts.append(f"runs up to {fact.values[0]} hours per charge")
        elif fact.text.endswith(f"it is {fact.values[0]}"):
            parts.append(f"is {fact.values[0]}")
        else:
            parts.append(f"has {fact.field.replace('_', ' ')} {join_and(fact.values)}")
    if parts:
        out["features"] = [f"It {join_and(parts)}."]
    colors = featured.get("colors", ())
    sizes = featured.get("sizes", ())
    if colors or sizes:
        pieces = ([join_and(colors)] if colors else []) + ([_size_phrase(sizes)] if sizes else [])
        out["options"] = ["It comes in " + ", ".join(pieces).replace("in in ", "in ") + "."]
    proof = []
    if product.rating is not None and product.review_count:
        proof.append(f"Shoppers rate it {product.rating:g} out of 5 across {product.review_count} reviews.")
    for fact in product_facts.in_group("proof"):
        if fact.kind == "review" and fact.values:
            quote = fact.values[0]
            proof.append(f'One reviewer says: "{quote}"' + ("" if quote.endswith((".", "!", "?")) else "."))
            break
    if proof:
        out["proof"] = proof
    out["store"] = _store_sentences(product_facts)
    return {group: sentences for group, sentences in out.items() if sentences}


def _store_sentences(product_facts: ProductFacts) -> list[str]:
    facts = {f.id: f for f in product_facts.facts}
    product = product_facts.product
    out = []
    threshold = facts.get("store:shipping.free_shipping_threshold")
    if threshold is not None:
        amount = re.search(r"orders of (.+?) or more", threshold.text)
        if "store:free_shipping.item" in facts:
            out.append(f"At {money(product.price, product.currency)}, it ships free: orders of {amount.group(1)} or "
                       "more ship free.")
        elif amount:
            out.append(f"Orders of {amount.group(1)} or more ship free.")
    warranty = next((f for f in product_facts.facts if f.id.startswith("store:warranty.")), None)
    if warranty is not None:
        text = warranty.text.split(": ", 1)[1].rstrip(".")
        out.append(f"It is covered by our {text[0].lower() + text[1:]}.")
    if "final_sale" in facts:
        out.append("Please note that it is marked Final Sale, so it cannot be returned.")
    elif "store:exchanges.cost" in facts:
        returns = facts.get("store:returns.window_days")
        days = numbers_in(returns.text) if returns else set()
        lead = f"Unworn and unused, it can be returned within {min(days, key=float)} days, and size" if days else "Size"
        out.append(f"{lead} and colour exchanges are free in the US.")
    elif "store:returns.window_days" in facts:
        days = numbers_in(facts["store:returns.window_days"].text)
        out.append(f"Unworn and unused, it can be returned within {min(days, key=float)} days.")
    return out


def _best_highlight(product_facts: ProductFacts) -> Fact | None:
    """The description sentence that adds the most the attributes do not say (features, uses)."""
    attribute_tokens = set(keyword_tokens(" ".join(f.text for f in product_facts.facts if f.kind != "description")))
    material = product_facts.featured.get("material", ("",))[0].lower()
    best, best_new = None, 2
    for fact in product_facts.in_group("highlights"):
        if material and material in fact.text.lower():
            continue  # the build sentence says it
        new = len(set(keyword_tokens(fact.text)) - attribute_tokens)
        if new > best_new and len(fact.text) <= 220:
            best, best_new = fact, new
    return best


def mentions(sentence: str, fact: Fact) -> bool:
    """Whether `sentence` states `fact`'s attribute (every value of a short list, the words of a phrase)."""
    lowered = sentence.lower()
    tokens = set(keyword_tokens(sentence))
    numbers = numbers_in(sentence)
    if fact.negated:
        return False
    if fact.field == "gender":
        gender = fact.values[0].lower()
        return bool(re.search(rf"\b(?:{re.escape(gender)}|{re.escape(gender_word(gender))})\b", lowered))
    if fact.field in ("weight_g", "battery_hours", "capacity"):
        return bool(numbers_in(fact.values[0]) & numbers)
    if fact.field == "sizes":
        def said(value: str) -> bool:
            return re.search(rf"(?<![\w./]){re.escape(value.lower())}(?!\w|\.\d|/)", lowered) is not None

        first, last = fact.values[0].lower(), fact.values[-1].lower()
        ranged = re.search(rf"(?<![\w./]){re.escape(first)} to {re.escape(last)}(?!\w|\.\d|/)", lowered)
        return bool(ranged) or all(said(v) for v in fact.values)  # a range, or every size: never a gap
    if fact.field and len(fact.values) > 1:
        return all(re.search(rf"\b{re.escape(v.lower())}\b", lowered) for v in fact.values)
    if fact.field:
        wanted = set(keyword_tokens(" ".join(fact.values)))
        if fact.text.endswith(f"it is {fact.values[0]}") and NEGATION.search(sentence):
            return False
        return bool(wanted) and len(wanted & tokens) / len(wanted) >= 0.6
    return True


def _complete(sentence: str, group: str, product_facts: ProductFacts) -> bool:
    """Whether a candidate says everything its group's template says (its group's attributes, the name in the
    intro, most of the highlight's words)."""
    product = product_facts.product
    if group == "intro":
        kind = set(keyword_tokens(product.subcategory or product.category))
        pair = (product.subcategory or product.category).lower().split()[-1] in PAIRS
        if bool(re.search(r"\bpairs? of\b", sentence.lower())) != pair and "pair" in sentence.lower():
            return False  # "a pair of hip bags"
        gender = next((f for f in product_facts.facts if f.field == "gender"), None)
        return (product.title.lower() in sentence.lower() and kind <= set(keyword_tokens(sentence))
                and (gender is None or "gender" not in product_facts.featured or mentions(sentence, gender)))
    if group == "highlights":
        highlight = _best_highlight(product_facts)
        wanted = set(keyword_tokens(highlight.text)) - set(keyword_tokens(product.title)) if highlight else set()
        return bool(wanted) and len(wanted & set(keyword_tokens(sentence))) / len(wanted) >= 0.6
    if group == "proof":
        return {f"{product.rating:g}", str(product.review_count)} <= numbers_in(sentence)
    fields = [f for f in product_facts.facts if f.group == group and f.field in product_facts.featured]
    return all(mentions(sentence, f) for f in fields)


def lm_facts(group: str, product_facts: ProductFacts) -> str:
    """The fact lines the LM is shown for one group."""
    if group == "highlights":
        highlight = _best_highlight(product_facts)
        return highlight.text if highlight else ""
    if group == "intro":
        lines = [f.text for f in product_facts.in_group("intro")
                 if f.field != "gender" or "gender" in product_facts.featured]
        return "\n".join(lines)
    if group == "proof":
        return "\n".join(f.text for f in product_facts.in_group("proof") if f.kind != "review")
    return "\n".join(f.text for f in product_facts.in_group(group) if not f.negated)


def prompt_for(generator: TextGenerator, group: str, facts_text: str, variant: int, store: str) -> Prompt:
    """A few-shot chat prompt: the instructions, the variant's worked examples, then this product's facts."""
    messages = [{"role": "system", "content": SYSTEM.format(store=store)}]
    for example_facts, sentence in EXAMPLES[group][variant % len(EXAMPLES[group])]:
        messages += [{"role": "user", "content": f"Facts:\n{example_facts}"},
                     {"role": "assistant", "content": sentence}]
    messages.append({"role": "user", "content": f"Facts:\n{facts_text}"})
    return Prompt(generator.prompt_format.render(messages), tuple(messages))


class CopyWriter:
    """Writes one product's sentences group by group: LM candidates first (when there is an LM), the template
    as the fallback, every candidate traced."""

    def __init__(self, generator: TextGenerator | None, store: str, candidates: int = 2, max_tokens: int = 48):
        self.generator = generator
        self.store = store
        self.candidates = max(0, candidates) if generator is not None else 0
        self.max_tokens = max_tokens

    async def group(self, group: str, product_facts: ProductFacts, tracer: Tracer, template: list[str],
                    written: list[str]) -> GroupResult:
        """The sentence(s) kept for `group`: the best supported, complete LM candidate, else the template."""
        result = GroupResult(group)
        lm: list[Candidate] = []
        facts_text = lm_facts(group, product_facts) if group in LM_GROUPS else ""
        if facts_text and self.generator is not None:
            seen: set[str] = set()
            for variant in range(self.candidates):
                raw = await collect(self.generator, prompt_for(self.generator, group, facts_text, variant, self.store),
                                    self.max_tokens)
                sentence = first_sentence(raw)
                if not sentence or sentence in seen:
                    continue
                seen.add(sentence)
                candidate = Candidate(sentence, group, "lm", tracer.trace(sentence))
                candidate.complete = _complete(sentence, group, product_facts)
                if candidate.trace.supported and sentence in written:
                    candidate.trace.reject("(repeated)", "it repeats an earlier sentence")
                lm.append(candidate)
        result.candidates += lm
        fallback = [Candidate(text, group, "template", tracer.trace(text)) for text in template]
        for candidate in fallback:
            candidate.complete = True
        result.candidates += fallback
        usable = [c for c in lm if c.trace.supported and c.complete]
        if usable:
            best = max(usable, key=lambda c: (len(c.trace.sources), -abs(len(c.text) - 110)))
            best.chosen = True
            result.kept.append(best)
            extra = [c for c in fallback[1:] if c.trace.supported]  # e.g. a review quote after the rating
        else:
            extra = [c for c in fallback if c.trace.supported]
        for candidate in extra:
            candidate.chosen = True
            result.kept.append(candidate)
        return result
