"""The demo prompts every engine of the bake-off is timed on: demo paraphrases, their retrieved sources, and the
responder's own prompt builder, tokenised once with the packaged model's tokenizer.

The store is opened on the tests' cache (`.shopbot_cache/tests`, or `SHOPBOT_TEST_CACHE`) with the plain packaged
MiniLM, as the test fixtures open it, so the index already built there is reused rather than rebuilt.
"""

from __future__ import annotations

import csv
import os
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PARAPHRASES = ROOT / "benchmarks" / "retrieval" / "demo_paraphrases.csv"


@dataclass
class DemoPrompt:
    """One prompt as the responder would send it: the question, the sources it cites, its token ids."""

    question: str
    source_ids: list[str]
    token_ids: list[int]

    def summary(self) -> dict:
        row = asdict(self)
        row["prompt_tokens"] = len(row.pop("token_ids"))
        return row


def demo_questions(count: int) -> list[str]:
    """`count` demo paraphrases spread evenly over the file (so over the FAQ's topics)."""
    with PARAPHRASES.open(encoding="utf-8") as handle:
        queries = [row["query"] for row in csv.DictReader(handle)]
    step = max(1, len(queries) // count)
    return queries[::step][:count]


def build_demo_prompts(count: int, converted_folder: Path) -> list[DemoPrompt]:
    """Retrieve sources for `count` demo questions and build their prompts with the responder's `PromptBuilder`
    (the bot's default budget: `responder.prompt_tokens`, less the reply length)."""
    from transformers import AutoTokenizer

    from bot.config import load_settings
    from bot.generation.formats import TokenizerFormat
    from bot.knowledge import open_store
    from bot.responder.answerer import Answerer
    from bot.responder.prompt import PromptBuilder, ReplyRequest
    from bot.responder.responder import Responder
    from retrieval.embeddings import Embedder

    cache = Path(os.environ.get("SHOPBOT_TEST_CACHE") or ROOT / ".shopbot_cache" / "tests")
    settings = load_settings(cache_dir=cache)
    knowledge = open_store(settings, embedder=Embedder(onnx_cache=cache / "models"))
    answerer = Answerer(knowledge.index, Responder(None), knowledge.kb.name, settings.responder.k_sources,
                        settings.answer_min_similarity, catalog=knowledge.kb.product)
    tokenizer = AutoTokenizer.from_pretrained(str(converted_folder), local_files_only=True)
    chat_format = bool(getattr(tokenizer, "chat_template", None))
    budget = settings.responder.prompt_tokens
    builder = PromptBuilder(TokenizerFormat(tokenizer, 8192), budget)
    prompts = []
    for question in demo_questions(count):
        sources = answerer.sources_for(question)
        if not sources:
            continue  # the bot answers "not sure" without the LM: nothing to time
        text = builder.build(ReplyRequest(question, sources, [], knowledge.kb.name)).text
        ids = tokenizer(text, add_special_tokens=not chat_format)["input_ids"]
        prompts.append(DemoPrompt(question, [s.id for s in sources], list(ids)))
    return prompts
