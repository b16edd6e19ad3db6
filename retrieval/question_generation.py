"""Training questions for a store that wrote no alternate phrasings: shopper-style questions for every FAQ entry
(and policy section, and a sample of products), used exactly as hand-written alternates are (extra question views
in the index, and pairs for tuning the embedder).

Two writers, then one filter:
- **templates** (`template_questions`): question-form rewrites ("how do I X" -> "how to X", "steps to X"), terse
  keyword forms, typos and texting shorthand, shopping synonyms, and the answer's own distinctive words (by IDF
  over the store's texts): deterministic and fast;
- **the LM** (`lm_questions`): the packaged SmolLM2-135M-Instruct through the generation backend (llama.cpp),
  greedy, asked for the question a shopper typed to get the answer, or for a casual rewrite, within a time budget;
- **filters** (`filter_questions`): dedupe, drop what copies the answer, and drop what the untuned embedder
  ranks its own entry low for (below `filter_rank` targets of the same kind: the question is about something else).

The result is cached under `cache_dir/questions/` by a fingerprint of the targets, the settings and the models,
sealed with a sha256 of its content (a damaged file is rewritten).

>>> generated = generated_questions(targets_of(kb.faq), embedder, Path(".shopbot_cache"), QuestionConfig())
>>> faq = with_generated(kb.faq, generated)
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import random
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.atomic import atomic_folder
from retrieval.documents import FaqEntry, PolicySection, Product
from retrieval.embeddings import Embedder
from retrieval.progress import duration, progress_bar

log = logging.getLogger("shopbot")
VERSION = "question-generation-1"  # part of the fingerprint: change it when the writers or filters change
QUESTIONS_FILE = "questions.json"

STOPWORDS = frozenset("""a an the and or but if of to in on at for from by with about as is are was were be been being
am do does did done doing have has had having i me my mine you your yours we our us they their them it its this that
these those there here what which who whom whose when where why how can could will would shall should may might must
any some so than too very just also not no yes please thanks hi hello hey there get got own s t much many
won't i've i'm don't can't""".split())

# shopping words and the other words shoppers use for them (generic, not any store's)
SYNONYMS: dict[str, tuple[str, ...]] = {
    "shipping": ("delivery", "postage"), "ship": ("send", "deliver"), "shipped": ("sent", "dispatched"),
    "delivery": ("shipping",), "deliver": ("ship",), "order": ("purchase",), "orders": ("purchases",),
    "return": ("send back",), "returns": ("send backs",), "refund": ("money back",), "refunds": ("money back",),
    "cancel": ("call off", "stop"), "price": ("cost",), "cost": ("price",), "costs": ("prices",),
    "discount": ("coupon", "promo code"), "discounts": ("deals", "coupons"), "item": ("product", "thing"),
    "items": ("products", "stuff"), "product": ("item",), "package": ("parcel", "box"), "account": ("profile",),
    "password": ("login",), "exchange": ("swap",), "warranty": ("guarantee",), "damaged": ("broken",),
    "defective": ("faulty", "broken"), "track": ("check on",), "tracking": ("tracking number",),
    "international": ("overseas", "abroad"), "payment": ("paying",), "pay": ("pay for it",),
    "purchase": ("order",), "buy": ("order", "get"), "store": ("shop",), "receive": ("get",),
    "change": ("edit", "update"), "address": ("shipping address",), "expedited": ("faster",), "free": ("no cost",),
    "size": ("fit",), "email": ("e-mail",), "contact": ("reach",), "customer service": ("support",),
}
SHORTHAND = (("you", "u"), ("your", "ur"), ("are", "r"), ("please", "pls"), ("thanks", "thx"), ("what is", "whats"),
             ("i am", "im"), ("do not", "dont"), ("can not", "cant"), ("going to", "gonna"), ("want to", "wanna"))

# what the LM is asked (greedy): a question from the answer (brings the answer's words), or a casual rewrite
LM_STYLES = (
    "Here is an answer from an online store's help page:\n\"{answer}\"\n"
    "Write the short question a customer asked to get this answer. Reply with the question only.",
    "Rewrite this customer question in casual chat style, lowercase, as a customer texting support. "
    "Reply with the question only.\n\"{question}\"",
)


@dataclass(frozen=True)
class QuestionConfig:
    """What is written and kept; part of the cache's fingerprint."""

    templates: bool = True
    lm: bool = True
    lm_budget_s: float = 120.0   # LM writing stops after this; the rest keep their template questions
    lm_max_tokens: int = 32
    max_per_target: int = 14     # kept questions per target, at most
    filter_rank: int = 6         # keep a question only if its own target ranks at most this high (untuned);
    # measured on the demo dev paraphrases (hit@1 / MRR): 1 -> 0.729 / 0.827, 3 -> 0.757 / 0.845,
    # 6 -> 0.771 / 0.856, 20 -> 0.729 / 0.836: a strict filter keeps only questions the model already gets right
    answer_copy_ratio: float = 0.6  # drop a question this similar (difflib ratio) to the answer, or inside it
    product_sample: int = 40     # products written for (spread over the catalog), 0: none
    seed: int = 13


@dataclass(frozen=True)
class Target:
    """Something shoppers ask about: an FAQ entry, a policy section or a product, as `kind:id`."""

    id: str
    question: str   # the FAQ question, the section's heading, the product's title
    text: str       # the answer, the section's text, the product's description

    @property
    def kind(self) -> str:
        return self.id.split(":", 1)[0]


@dataclass
class GeneratedQuestions:
    """Kept questions per target id, with how they were made."""

    questions: dict[str, list[str]]
    stats: dict[str, Any] = field(default_factory=dict)

    def for_target(self, target_id: str) -> list[str]:
        return self.questions.get(target_id, [])

    def count(self) -> int:
        return sum(len(q) for q in self.questions.values())


def targets_of(faq: Iterable[FaqEntry], policies: Iterable[PolicySection] = (), products: Iterable[Product] = (),
               product_sample: int = 0) -> list[Target]:
    """The targets to write questions for: every FAQ entry and policy section, and `product_sample` products spread
    evenly over the catalog."""
    out = [Target(f"faq:{e.id}", e.question, e.answer) for e in faq]
    out += [Target(f"policy:{s.id}", s.heading, s.text) for s in policies]
    catalog = list(products)
    if product_sample and catalog:
        step = max(1, len(catalog) // product_sample)
        out += [Target(f"product:{p.id}", p.title, p.description or f"{p.brand} {p.category}")
                for p in catalog[::step][:product_sample]]
    return out


# ---------------------------------------------------------------------------------------------------- templates

def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9$]+(?:['.][a-z0-9]+)*", text.lower())


def normal(text: str) -> str:
    """The comparable form of a question: lowercase words only."""
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def content_words(text: str) -> list[str]:
    return [w for w in words(text) if w not in STOPWORDS and len(w) > 1]


class Vocabulary:
    """Inverse document frequencies over the store's targets: which of an answer's words are its own."""

    def __init__(self, targets: list[Target]):
        self.n = max(1, len(targets))
        self.df = Counter(w for t in targets for w in set(content_words(f"{t.question} {t.text}")))

    def idf(self, word: str) -> float:
        return math.log((1 + self.n) / (1 + self.df.get(word, 0))) + 1

    def distinctive(self, text: str, exclude: Iterable[str] = (), k: int = 3) -> list[str]:
        """The `k` rarest content words of `text` (not in `exclude`, numbers and prices left out), in text order."""
        seen, out = set(exclude), []
        for w in content_words(text):
            if w not in seen and not re.fullmatch(r"[$0-9.,]+", w):
                seen.add(w)
                out.append(w)
        best = set(sorted(out, key=lambda w: -self.idf(w))[:k])
        return [w for w in out if w in best]


def _question_forms(q: str) -> list[str]:
    """Rewrites of a question's form ("how do i X" -> "how to X"); `q` is lowercase without end punctuation."""
    rules: list[tuple[str, tuple[str, ...]]] = [
        (r"^how much (?:does|do|is|are) (.+?)(?: cost)?$", ("what's the price of {0}", "{0} price",
                                                             "how much is {0}", "what do you charge for {0}")),
        (r"^how (?:do|can) i (.+)$", ("how to {0}", "what's the way to {0}", "steps to {0}", "i want to {0}",
                                      "i need to {0}, how")),
        (r"^can i (.+)$", ("is it possible to {0}", "am i able to {0}", "could i {0}", "i'd like to {0}")),
        (r"^do you (offer|have|sell|accept|ship|carry|take|price|match|do) (.+)$",
         ("do u {0} {1}", "you guys {0} {1}?", "does your store {0} {1}", "is there any way you {0} {1}")),
        (r"^(?:what|which) (?:is|are) (.+)$", ("what's {0}", "tell me about {0}", "info on {0}")),
        (r"^(?:is|are) (?:there|it) (.+)$", ("any {0}", "wondering if there's {0}")),
        (r"^(?:does|do|will|is|are|can) (.+)$", ("i'd like to know if {0}", "wondering whether {0}")),
        (r"^(when|where|why|how long|how many|how soon) (.+)$", ("{0} exactly {1}", "any idea {0} {1}")),
        (r"^what (.+)$", ("so what {0}",)),
    ]
    out = []
    for pattern, forms in rules:
        match = re.match(pattern, q)
        if match:
            out += [form.format(*match.groups()) for form in forms]
            break
    return out


def _typo(text: str, rng: random.Random) -> str:
    """One typo in one longer word: two letters swapped, one dropped, or one doubled."""
    tokens = text.split()
    long_ones = [i for i, t in enumerate(tokens) if len(t) >= 5 and t.isalpha()]
    if not long_ones:
        return text
    i = rng.choice(long_ones)
    word, j = tokens[i], rng.randrange(1, len(tokens[i]) - 2)
    kind = rng.randrange(3)
    tokens[i] = (word[:j] + word[j + 1] + word[j] + word[j + 2:] if kind == 0 else
                 word[:j] + word[j + 1:] if kind == 1 else word[:j] + word[j] + word[j:])
    return " ".join(tokens)


def _shorthand(text: str) -> str:
    out = f" {text} "
    for long, short in SHORTHAND:
        out = out.replace(f" {long} ", f" {short} ")
    return out.strip()


def _synonym_swaps(text: str, rng: random.Random, limit: int = 2) -> list[str]:
    out = []
    for word, others in SYNONYMS.items():
        if re.search(rf"\b{re.escape(word)}\b", text):
            out.append(re.sub(rf"\b{re.escape(word)}\b", rng.choice(others), text, count=1))
    rng.shuffle(out)
    return out[:limit]


def template_questions(target: Target, vocabulary: Vocabulary, seed: int = 13) -> list[str]:
    """Shopper-style rewrites of a target's question, from rules and the store's own words (deterministic)."""
    rng = random.Random(f"{seed}:{target.id}")
    q = re.sub(r"[?.!\s]+$", "", target.question.strip()).lower()
    terse = " ".join(content_words(q))
    own = vocabulary.distinctive(target.text, exclude=content_words(q), k=3)
    forms = _question_forms(q)
    out = [q, *forms, terse, f"{terse}?"]
    out += _synonym_swaps(q, rng)
    out += rng.sample([_shorthand(f"hi {q}"), f"quick question, {q}?", f"{q} thanks", f"hey so {q}"], 2)
    out += [_typo(q, rng), _typo(_shorthand(rng.choice(forms or [q])), rng)]
    if own:
        out += [f"{terse} {' '.join(own)}", " ".join(own[:2]) + "?", f"question about {' '.join(own[:2])}: {q}"]
    return [re.sub(r"\s+", " ", s).strip(" ,") for s in out if s.strip()]


# ----------------------------------------------------------------------------------------------------------- LM

def _clean_lm_line(text: str) -> str:
    line = next((part for part in text.strip().splitlines() if part.strip()), "")
    line = re.sub(r"^(?:question|customer|q)\s*:\s*", "", line.strip(), flags=re.I)
    return line.strip().strip("\"'").strip()


def lm_questions(generator: Any, target: Target, style: int, max_tokens: int = 32) -> list[str]:
    """One question the LM writes for `target` in `LM_STYLES[style]` (greedy, through the generation backend)."""
    import asyncio

    from bot.generation.base import Prompt, collect

    instruction = LM_STYLES[style % len(LM_STYLES)].format(question=target.question, answer=target.text[:400])
    prompt = Prompt(generator.prompt_format.render([{"role": "user", "content": instruction}]))
    text = asyncio.run(collect(generator, prompt, max_tokens))
    line = _clean_lm_line(text)
    return [line] if 3 <= len(line) <= 200 else []


def open_question_writer(cache_dir: Path, threads: int = 0) -> Any:
    """The packaged SmolLM2-135M-Instruct on llama.cpp (re-quantised to q4_0 once, like the responder's)."""
    from bot.generation.factory import model_file, requantized
    from bot.generation.llama_cpp_backend import LlamaCppGenerator

    return LlamaCppGenerator(requantized(model_file("smollm2"), "q4_0", cache_dir), threads=threads or None,
                             context=768)


# ------------------------------------------------------------------------------------------------------ filters

def copies_answer(question: str, answer: str, ratio: float) -> bool:
    """A question that is the answer (or a long stretch of it) teaches nothing about how shoppers ask."""
    q, a = normal(question), normal(answer)
    if len(q.split()) >= 6 and q in a:
        return True
    return SequenceMatcher(None, q, a).ratio() >= ratio or (
        len(q.split()) >= 8 and SequenceMatcher(None, q, a).find_longest_match().size >= 0.8 * len(q))


def filter_questions(candidates: dict[str, list[str]], targets: list[Target], embedder: Embedder,
                     config: QuestionConfig) -> tuple[dict[str, list[str]], dict[str, int]]:
    """Dedupe (also against each target's own question), drop answer copies, then drop questions the untuned
    `embedder` ranks another target of the same kind above their own for (beyond `config.filter_rank`)."""
    dropped = Counter()
    kept: dict[str, list[str]] = {}
    seen: set[str] = set()
    by_id = {t.id: t for t in targets}
    for target_id, questions in candidates.items():
        target = by_id[target_id]
        own = normal(target.question)
        kept[target_id] = []
        for question in questions:
            key = normal(question)
            if not key or key == own or key in seen:
                dropped["duplicate"] += 1
                continue
            seen.add(key)
            if copies_answer(question, target.text, config.answer_copy_ratio):
                dropped["copies_answer"] += 1
                continue
            kept[target_id].append(question)
    ids = [t.id for t in targets]
    views_q = embedder.encode([t.question for t in targets])
    views_c = embedder.encode([f"{t.question}\n{t.text}" for t in targets])
    flat = [(tid, q) for tid, qs in kept.items() for q in qs]
    if flat:
        vectors = embedder.encode([q for _, q in flat])
        scores = (vectors @ views_q.T + vectors @ views_c.T) / 2  # the index's mean over question and content views
        kinds = np.array([i.split(":", 1)[0] for i in ids])
        position = {tid: i for i, tid in enumerate(ids)}
        out: dict[str, list[str]] = {tid: [] for tid in kept}
        for row, (tid, question) in enumerate(flat):
            same_kind = scores[row][kinds == tid.split(":", 1)[0]]
            rank = 1 + int((same_kind > scores[row][position[tid]]).sum())
            if rank <= config.filter_rank:
                out[tid].append(question)
            else:
                dropped["retrieves_another"] += 1
        kept = out
    for tid in kept:
        if len(kept[tid]) > config.max_per_target:
            dropped["over_limit"] += len(kept[tid]) - config.max_per_target
            kept[tid] = kept[tid][:config.max_per_target]
    return kept, dict(dropped)


# -------------------------------------------------------------------------------------------------------- cache

def fingerprint(targets: list[Target], config: QuestionConfig, embedder: Embedder, lm_key: str) -> str:
    payload = {"version": VERSION, "config": asdict(config), "embedder": embedder.model_id, "lm": lm_key,
               "targets": [[t.id, t.question, t.text] for t in targets]}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def _lm_key() -> str:
    try:
        from bot.responder.lm import smollm2_gguf
        from retrieval.checksums import file_version_key

        return f"smollm2:{file_version_key(smollm2_gguf())}"
    except (ImportError, RuntimeError):
        return "none"


def _seal(questions: dict[str, list[str]]) -> str:
    return hashlib.sha256(json.dumps(questions, sort_keys=True).encode()).hexdigest()


def load_cached(folder: Path) -> GeneratedQuestions | None:
    """The questions cached in `folder`, or None when missing or damaged (their seal does not match)."""
    path = folder / QUESTIONS_FILE
    try:
        data = json.loads(path.read_text())
        if data.get("sha256") == _seal(data["questions"]):
            return GeneratedQuestions(data["questions"], data.get("stats", {}))
        log.warning("generated questions in %s are damaged: writing them again", folder)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        log.warning("generated questions in %s cannot be read: writing them again", folder)
    return None


def generated_questions(targets: list[Target], embedder: Embedder, cache_dir: Path,
                        config: QuestionConfig | None = None, progress: bool = False,
                        writer: Callable[[], Any] | None = None) -> GeneratedQuestions:
    """Write, filter and cache questions for `targets` (once per fingerprint). `writer` opens the LM (default:
    the packaged SmolLM2 on llama.cpp)."""
    config = config or QuestionConfig()
    lm_key = _lm_key() if config.lm else "none"
    folder = Path(cache_dir) / "questions" / f"questions-{fingerprint(targets, config, embedder, lm_key)}"
    if cached := load_cached(folder):
        return cached
    started = time.perf_counter()
    vocabulary = Vocabulary(targets)
    candidates = {t.id: template_questions(t, vocabulary, config.seed) if config.templates else [] for t in targets}
    template_s = time.perf_counter() - started
    lm_written, lm_s, lm_done = 0, 0.0, 0
    if config.lm and config.lm_budget_s > 0:
        lm_started = time.perf_counter()
        generator = (writer or (lambda: open_question_writer(Path(cache_dir))))()
        try:
            bar = progress_bar(total=len(targets), desc="Writing training questions (LM)", unit="target",
                               show=progress)
            with bar:
                for i, target in enumerate(targets):
                    if time.perf_counter() - lm_started > config.lm_budget_s:
                        break
                    found = lm_questions(generator, target, i, config.lm_max_tokens)
                    candidates[target.id] = found + candidates[target.id]  # the LM's first: kept before any cap
                    lm_written += len(found)
                    lm_done += 1
                    bar.update(1)
        finally:
            generator.close()
        lm_s = time.perf_counter() - lm_started
    filter_started = time.perf_counter()
    kept, dropped = filter_questions(candidates, targets, embedder, config)
    stats = {"targets": len(targets), "candidates": sum(len(c) for c in candidates.values()),
             "kept": sum(len(k) for k in kept.values()), "dropped": dropped, "lm_targets": lm_done,
             "lm_written": lm_written, "template_s": round(template_s, 2), "lm_s": round(lm_s, 1),
             "filter_s": round(time.perf_counter() - filter_started, 1),
             "seconds": round(time.perf_counter() - started, 1)}
    with atomic_folder(folder) as staging:
        (staging / QUESTIONS_FILE).write_text(json.dumps({"questions": kept, "stats": stats,
                                                          "sha256": _seal(kept)}, indent=1))
    log.info("Wrote %d training questions for %d targets in %s", stats["kept"], len(targets),
             duration(stats["seconds"]))
    return GeneratedQuestions(kept, stats)


def with_generated(faq: list[FaqEntry], generated: GeneratedQuestions) -> list[FaqEntry]:
    """The FAQ with each entry's generated questions added to its alternates (hand-written ones first)."""
    return [replace(e, alternates=(*e.alternates, *generated.for_target(f"faq:{e.id}"))) for e in faq]
