"""Key/value states of recent prompts, so a prompt that starts like an earlier one is prefilled only from where
they differ."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

class PrefixCache:
    """Key/value states of recent prompts, found again by any shared prefix of whole blocks of tokens.

    Replies to the same store share the instructions at the top of every prompt, and questions about the same FAQ
    entry share its facts too: their prefill starts where the shared part ends. Entries are evicted least
    recently used first once they hold more than `max_tokens` tokens.
    """

    def __init__(self, max_tokens: int = 8192, block: int = 16):
        self.max_tokens = max_tokens
        self.block = block
        self._entries: OrderedDict[int, tuple[list[tuple[Any, Any]], list[int]]] = OrderedDict()
        self._by_prefix: dict[int, tuple[int, int]] = {}  # hash of a block-aligned prefix -> (entry, its length)
        self._tokens = 0
        self._next_id = 0

    def _hashes(self, prompt: list[int]) -> list[tuple[int, int]]:
        """(prefix length, hash) for every whole-block prefix shorter than the prompt, longest last."""
        out, running = [], 0
        for end in range(self.block, len(prompt), self.block):
            running = hash((running, tuple(prompt[end - self.block:end])))
            out.append((end, running))
        return out

    def lookup(self, prompt: list[int]) -> tuple[int, list[tuple[Any, Any]] | None]:
        """The longest cached prefix of `prompt` (always leaving at least one token to run): its length and states."""
        for length, key in reversed(self._hashes(prompt)):
            found = self._by_prefix.get(key)
            if found is not None and found[1] == length:
                self._entries.move_to_end(found[0])
                layers = self._entries[found[0]][0]
                return length, [(k[:, :, :length], v[:, :, :length]) for k, v in layers]
        return 0, None

    def store(self, prompt: list[int], layers: list[tuple[Any, Any]]) -> None:
        """Keep the states of `prompt`'s whole-block prefix (layers: per-layer keys and values of one row)."""
        hashes = self._hashes(prompt)
        if not hashes or self.max_tokens <= 0:
            return
        length = hashes[-1][0]
        if self._by_prefix.get(hashes[-1][1], (None, -1))[1] == length:
            return  # already cached
        entry = self._next_id
        self._next_id += 1
        self._entries[entry] = ([(k[:, :, :length].clone(), v[:, :, :length].clone()) for k, v in layers],
                                [key for _, key in hashes])
        for end, key in hashes:
            self._by_prefix[key] = (entry, end)
        self._tokens += length
        while self._tokens > self.max_tokens and len(self._entries) > 1:
            old, (old_layers, keys) = self._entries.popitem(last=False)
            self._tokens -= old_layers[0][0].shape[2]
            for key in keys:
                if self._by_prefix.get(key, (None,))[0] == old:
                    del self._by_prefix[key]
