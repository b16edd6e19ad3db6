"""Attention for batched decoding on the CPU: PyTorch's fused kernel reading grouped key/value heads in place."""

from __future__ import annotations

from typing import Any

GQA_ATTENTION = "shopbot_gqa_sdpa"


def _gqa_sdpa(module: Any, query: Any, key: Any, value: Any, attention_mask: Any, dropout: float = 0.0,
              scaling: float | None = None, is_causal: bool | None = None, **kwargs: Any) -> tuple[Any, None]:
    """PyTorch's fused attention with grouped key/value heads read in place, mask or no mask.

    Transformers' own "sdpa" copies the key/value cache once per query group whenever there is a padding mask,
    which a batch of replies of different lengths always has: for SmolLM2 (9 query heads, 3 key/value heads) that
    tripled the memory each decode step moved.
    """
    import torch

    if attention_mask is not None and attention_mask.ndim == 4:
        attention_mask = attention_mask[:, :, :, : key.shape[-2]]
    if is_causal is None:
        is_causal = query.shape[2] > 1 and attention_mask is None and getattr(module, "is_causal", True)
    out = torch.nn.functional.scaled_dot_product_attention(
        query, key, value, attn_mask=attention_mask, dropout_p=dropout, scale=scaling, is_causal=is_causal,
        enable_gqa=key.shape[1] != query.shape[1])
    return out.transpose(1, 2).contiguous(), None


def use_gqa_attention(model: Any) -> bool:
    """Switch a grouped-query model (Llama, SmolLM2, Qwen ...) on the CPU from "sdpa" to `_gqa_sdpa`; False when it
    has no grouped heads, uses another attention, or runs on a GPU (whose kernels are left as they are)."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    config = model.config
    grouped = getattr(config, "num_key_value_heads", None) not in (None, getattr(config, "num_attention_heads", None))
    on_cpu = next(model.parameters()).device.type == "cpu"
    if not grouped or not on_cpu or getattr(config, "_attn_implementation", None) != "sdpa":
        return False
    AttentionInterface.register(GQA_ATTENTION, _gqa_sdpa)
    AttentionMaskInterface.register(GQA_ATTENTION, sdpa_mask)
    model.set_attn_implementation(GQA_ATTENTION)
    return True
