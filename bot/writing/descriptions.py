"""`shopbot write descriptions`: a description draft per product, every sentence traced to its facts.

A draft is one sentence per fact group (`bot.writing.facts.GROUPS`): the LM's best supported candidate when it
says all its group's facts, else the group's template. Every sentence the LM wrote that failed its trace is listed
as dropped, with why. Drafts are files for the owner to review (Markdown or JSON), never published anywhere.

>>> writer = DescriptionWriter(kb, generator)
>>> draft = asyncio.run(writer.write(kb.product("P1001")))
>>> draft.text
'The Tern Road Runner 3 from Kestrel is a pair of women\\'s road running shoes. ...'
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.generation.base import TextGenerator
from bot.responder.grounding import lowercase_words, split_sentences, store_fact_lines
from bot.writing.copy import Candidate, CopyWriter, mentions, templates
from bot.writing.facts import GROUPS, ProductFacts, product_facts
from bot.writing.tracing import Tracer, contrast_vocabulary
from retrieval.documents import Product

# Ordinary words that open a sentence of copy ("Shoppers rate it ...", "Meet the ..."): never taken for names.
COPY_WORDS = frozenset("""shoppers customers reviewers meet rated backed choose made built designed available ideal
perfect pick enjoy stay explore discover""".split())
SHORT_DESCRIPTION_CHARS = 160  # `--missing`: a description under this many characters, or of one sentence


@dataclass
class DescriptionDraft:
    """One product's draft: its text, each sentence with its sources, and the sentences dropped (and why)."""

    product_id: str
    title: str
    sentences: list[Candidate] = field(default_factory=list)
    dropped: list[Candidate] = field(default_factory=list)
    facts: ProductFacts | None = None
    seconds: float = 0.0
    lm_tried: int = 0

    @property
    def text(self) -> str:
        return " ".join(c.text for c in self.sentences)

    @property
    def coverage(self) -> dict[str, Any]:
        """The product's featured attributes, and which of them the text mentions."""
        featured = self.facts.featured if self.facts else {}
        fact_of = {f.field: f for f in (self.facts.facts if self.facts else []) if f.field}
        said = [key for key in featured if key in fact_of and any(mentions(c.text, fact_of[key])
                                                                    for c in self.sentences)]
        return {"attributes": list(featured), "mentioned": said,
                "share": round(len(said) / len(featured), 3) if featured else 1.0}

    def to_dict(self) -> dict[str, Any]:
        facts = self.facts.facts if self.facts else []
        return {"product_id": self.product_id, "title": self.title, "text": self.text,
                "sentences": [c.to_dict() for c in self.sentences],
                "dropped": [c.to_dict() for c in self.dropped],
                "withheld": [{"text": t, "why": w} for t, w in (self.facts.withheld if self.facts else [])],
                "facts": {f.id: f.text for f in facts}, "coverage": self.coverage,
                "lm_sentences": sum(c.origin == "lm" for c in self.sentences),
                "template_sentences": sum(c.origin == "template" for c in self.sentences),
                "lm_candidates": self.lm_tried, "seconds": round(self.seconds, 3)}

    def to_markdown(self) -> str:
        facts = {f.id: f.text for f in (self.facts.facts if self.facts else [])}
        lines = [f"# {self.title} ({self.product_id}): description draft", "",
                 "_A draft for review: not published. Every sentence names the facts it comes from._", "",
                 self.text, "", "## Sentences and their sources", ""]
        for i, c in enumerate(self.sentences, start=1):
            lines.append(f"{i}. {c.text}  \n   _{c.origin}; sources: {', '.join(c.trace.sources)}_")
        coverage = self.coverage
        lines += ["", f"Attributes mentioned: {len(coverage['mentioned'])} of {len(coverage['attributes'])} "
                      f"({', '.join(coverage['mentioned']) or 'none'})", ""]
        lines += ["## Dropped sentences", ""]
        if not self.dropped:
            lines.append("None.")
        for c in self.dropped:
            lines.append(f"- {c.text}  \n  _{c.origin}, {c.group}: {'; '.join(c.trace.reasons)}_")
        if self.facts and self.facts.withheld:
            lines += ["", "## Not used from the current description", ""]
            lines += [f"- {sentence}  \n  _{why}_" for sentence, why in self.facts.withheld]
        lines += ["", "## Facts", ""] + [f"- `{key}`: {text}" for key, text in facts.items()]
        return "\n".join(lines) + "\n"


def needs_description(product: Product, min_chars: int = SHORT_DESCRIPTION_CHARS) -> bool:
    """Whether a product's description is empty or short (`--missing`)."""
    text = (product.description or "").strip()
    return len(text) < min_chars or len(split_sentences(text)) < 2


def select_products(kb: Any, ids: Iterable[str] | None = None, missing: bool = False) -> list[Product]:
    """The products to write for: the ids named (an unknown id is an error naming it), those with an empty or
    short description (`missing`), else all."""
    if ids:
        wanted = [i.strip() for i in ids if i.strip()]
        unknown = [i for i in wanted if kb.product(i) is None]
        if unknown:
            raise ValueError(f"unknown product id(s): {', '.join(unknown)} (the catalog has {len(kb.products)} "
                             f"products, e.g. {', '.join(p.id for p in kb.products[:3])})")
        return [kb.product(i) for i in wanted]
    return [p for p in kb.products if needs_description(p)] if missing else list(kb.products)


class DescriptionWriter:
    """Writes description drafts for a store's products (`generator=None`: templates only)."""

    def __init__(self, kb: Any, generator: TextGenerator | None = None, candidates: int = 2, max_tokens: int = 48):
        self.kb = kb
        self.names = tuple([p.title for p in kb.products] + [p.brand for p in kb.products if p.brand])
        self.contrast = contrast_vocabulary(kb.products)
        self.vocabulary = lowercase_words([p.text for p in kb.passages()] + store_fact_lines(kb.facts)) | COPY_WORDS
        self.copy = CopyWriter(generator, kb.name, candidates, max_tokens)

    def tracer(self, facts: ProductFacts) -> Tracer:
        return Tracer(facts.facts, self.names, self.contrast, allowed=[self.kb.name], vocabulary=self.vocabulary)

    async def write(self, product: Product) -> DescriptionDraft:
        """One product's draft."""
        started = time.perf_counter()
        facts = product_facts(product, self.kb)
        tracer = self.tracer(facts)
        draft = DescriptionDraft(product.id, product.title, facts=facts)
        plan = templates(facts)
        for group in GROUPS:
            if group not in plan:
                continue
            result = await self.copy.group(group, facts, tracer, plan[group], [c.text for c in draft.sentences])
            draft.sentences += result.kept
            draft.dropped += [c for c in result.candidates if not c.trace.supported]
            draft.lm_tried += sum(c.origin == "lm" for c in result.candidates)
        draft.seconds = time.perf_counter() - started
        return draft


def write_draft(draft: DescriptionDraft, folder: Path, fmt: str = "md") -> Path:
    """Save a draft as `<folder>/<product id>.md` (or `.json`)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{draft.product_id}.{'json' if fmt == 'json' else 'md'}"
    body = json.dumps(draft.to_dict(), indent=2, ensure_ascii=False) + "\n" if fmt == "json" else draft.to_markdown()
    path.write_text(body, encoding="utf-8")
    return path
