"""`shopbot train responder`: teach the LM to answer from its sources, with examples built from the store.

Each example is a real prompt (the same `PromptBuilder` the responder uses: instructions, sources, question)
followed by the answer the store wrote. FAQ entries give one example per phrasing (question and alternates),
with the right entry among a few others as distractors; policy sections and products give a few more. Only
the answer tokens are trained on. LoRA (`peft`) by default, or the full model; a GPU when present, else a
bounded number of CPU steps. The adapter is saved with its metadata next to the model cache.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bot.responder.lm import LanguageModel
from bot.generation.formats import TokenizerFormat
from bot.responder.prompt import PromptBuilder, ReplyRequest, Source, product_source
from retrieval.atomic import atomic_folder
from retrieval.loaders import KnowledgeBase
from retrieval.training_progress import TrainingProgress


FORMAT = 2  # bump when the examples' layout changes, so old adapters are not reused


@dataclass(frozen=True)
class ResponderTrainConfig:
    """Fine-tuning settings (recorded in the adapter's metadata)."""

    steps: int = 60               # optimizer steps; on a CPU each takes a few seconds
    batch_size: int = 4
    learning_rate: float = 3e-4
    lora: bool = True             # False: train every weight (tiny models in tests)
    lora_rank: int = 8
    distractors: int = 2
    alternates_per_entry: int = 2
    seed: int = 7


@dataclass(frozen=True)
class TrainingExample:
    request: ReplyRequest
    answer: str


def build_examples(kb: KnowledgeBase, config: ResponderTrainConfig = ResponderTrainConfig()) -> list[TrainingExample]:
    """Question, sources and answer triples from the store's FAQ, policies and catalog."""
    rng = random.Random(config.seed)
    faq_sources = [Source(f"faq:{e.id}", e.question, e.answer) for e in kb.faq]
    examples = []
    for entry, source in zip(kb.faq, faq_sources):
        others = [s for s in faq_sources if s.id != source.id]
        for question in [entry.question, *entry.alternates[: config.alternates_per_entry]]:
            sources = rng.sample(others, min(config.distractors, len(others)))
            sources.insert(0 if rng.random() < 0.7 else min(1, len(sources)), source)  # usually, not always, first
            examples.append(TrainingExample(ReplyRequest(question, sources, store=kb.name), entry.answer))
    for section in kb.policies:
        source = Source(f"policy:{section.id}", f"{section.document}: {section.heading}", section.text)
        first = " ".join(section.text.split(". ")[:2]).strip()
        if first:
            examples.append(TrainingExample(ReplyRequest(f"what is your policy on {section.heading.lower()}?", [source],
                                                         store=kb.name), first if first.endswith(".") else first + "."))
    for product in rng.sample(kb.products, min(40, len(kb.products))):
        source = product_source(product)
        examples.append(TrainingExample(ReplyRequest(f"how much is the {product.title}?", [source], store=kb.name),
                                        f"The {product.title} costs ${product.price:.2f}."))
    rng.shuffle(examples)
    return examples


def adapter_folder(cache_dir: Path, lm: LanguageModel, examples: list[TrainingExample],
                   config: ResponderTrainConfig) -> Path:
    """Where the adapter for this model, data and config lives (a new folder when any of them changes)."""
    digest = hashlib.sha256(json.dumps([FORMAT, lm.name, lm.end_of_turn, asdict(config)]).encode())
    for example in examples:
        digest.update(json.dumps([example.request.question, [s.id for s in example.request.sources],
                                  example.answer]).encode())
    name = Path(lm.name).name or "lm"
    return Path(cache_dir) / "responder" / f"{name}-{digest.hexdigest()[:12]}"


def train_responder(lm: LanguageModel, examples: list[TrainingExample], folder: Path,
                    config: ResponderTrainConfig = ResponderTrainConfig(), progress: bool = False,
                    prompt_tokens: int = 640) -> dict[str, Any]:
    """Fine-tune `lm` on the examples and save the result (a LoRA adapter, or the whole model) in `folder`."""
    import torch

    started = time.perf_counter()
    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    builder = PromptBuilder(TokenizerFormat(lm.tokenizer, lm.context_size), prompt_tokens)
    model = lm.model
    if config.lora:
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(model, LoraConfig(r=config.lora_rank, lora_alpha=2 * config.lora_rank, lora_dropout=0.05,
                                                 target_modules=_attention_modules(model), task_type="CAUSAL_LM"))
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=config.learning_rate)
    encoded = [_encode(lm, builder, example) for example in examples]
    tracker = TrainingProgress(config.steps, "Training responder", progress)
    for step in range(config.steps):
        batch = [encoded[rng.randrange(len(encoded))] for _ in range(config.batch_size)]
        width = max(len(ids) for ids, _ in batch)
        pad = lm.tokenizer.pad_token_id
        input_ids = torch.tensor([ids + [pad] * (width - len(ids)) for ids, _ in batch], device=lm.device)
        labels = torch.tensor([lab + [-100] * (width - len(lab)) for _, lab in batch], device=lm.device)
        mask = torch.tensor([[1] * len(ids) + [0] * (width - len(ids)) for ids, _ in batch], device=lm.device)
        loss = model(input_ids=input_ids, attention_mask=mask, labels=labels).loss
        tracker.step(loss, optimizer)
    tracker.close()
    model.eval()
    metadata = {"format": FORMAT, "base_model": lm.name, "config": asdict(config), "examples": len(examples),
                "first_loss": tracker.mean_loss(first=5), "last_loss": tracker.mean_loss(last=5), "device": lm.device,
                "train_seconds": round(time.perf_counter() - started, 1)}
    with atomic_folder(Path(folder)) as staging:
        model.save_pretrained(str(staging))
        if not config.lora:
            lm.tokenizer.save_pretrained(str(staging))
        (staging / "responder.json").write_text(json.dumps(metadata, indent=2) + "\n")
    if config.lora:
        lm.model = model.merge_and_unload()
    return metadata


def latest_adapter(cache_dir: Path, lm_name: str) -> Path | None:
    """The most recent LoRA adapter trained for this model, if any."""
    name = Path(lm_name).name or "lm"
    found = sorted((Path(cache_dir) / "responder").glob(f"{name}-*/responder.json"), key=lambda p: p.stat().st_mtime)
    found = [p for p in found if json.loads(p.read_text())["config"]["lora"]]
    return found[-1].parent if found else None


def _encode(lm: LanguageModel, builder: PromptBuilder, example: TrainingExample) -> tuple[list[int], list[int]]:
    prompt = builder.build(example.request).text
    end = lm.end_of_turn
    prompt_ids = lm.tokenizer(prompt, add_special_tokens=not lm.chat_format)["input_ids"]
    answer_ids = lm.tokenizer((" " if not lm.chat_format else "") + example.answer + end,
                              add_special_tokens=False)["input_ids"]
    return prompt_ids + answer_ids, [-100] * len(prompt_ids) + answer_ids


def _attention_modules(model: Any) -> list[str]:
    """The attention projections LoRA adapts, by architecture (Llama-style or GPT-2)."""
    names = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    for candidates in (["q_proj", "v_proj"], ["c_attn"], ["query", "value"]):
        if set(candidates) <= names:
            return candidates
    raise ValueError("no known attention projection names for LoRA in this model; train with lora=False")
