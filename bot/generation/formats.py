"""Prompt formats read from a model's own tokenizer: its chat template, its special tokens, its token count."""

from __future__ import annotations

from typing import Any

from bot.generation.base import Message

TRANSCRIPT_ROLES = {"system": "", "user": "Customer: ", "assistant": "Assistant: "}


def transcript(messages: list[Message]) -> str:
    """A plain transcript for a model without a chat template (GPT-2 style): the system text, then
    "Customer:"/"Assistant:" lines, ending with "Assistant:" for the reply."""
    lines: list[str] = []
    for message in messages:
        if message["role"] == "system":
            lines += [message["content"], ""]
        else:
            lines.append(TRANSCRIPT_ROLES[message["role"]] + message["content"])
    return "\n".join(lines + ["Assistant:"])


class TokenizerFormat:
    """The prompt format of a Hugging Face tokenizer (used by the transformers and vLLM backends)."""

    def __init__(self, tokenizer: Any, context_size: int):
        self.tokenizer = tokenizer
        self.context_size = context_size
        self.chat_format = bool(getattr(tokenizer, "chat_template", None))
        self.special_tokens = list(getattr(tokenizer, "all_special_tokens", []) or [])

    def render(self, messages: list[Message]) -> str:
        if not self.chat_format:
            return transcript(messages)
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def count(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])


class ApproximateFormat:
    """For a remote model whose tokenizer is not here: chat messages sent as they are, tokens estimated from
    characters (a conservative 3 characters a token, so a trimmed prompt fits)."""

    chat_format = True
    special_tokens: list[str] = []

    def __init__(self, context_size: int = 4096):
        self.context_size = context_size

    def render(self, messages: list[Message]) -> str:
        return "\n\n".join(f"{m['role']}: {m['content']}" for m in messages)

    def count(self, text: str) -> int:
        return len(text) // 3 + 1
