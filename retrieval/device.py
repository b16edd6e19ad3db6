"""Where models run: `auto` means CUDA when a GPU is present, else the CPU."""

from __future__ import annotations


def resolve_device(device: str = "auto") -> str:
    """`auto` picks CUDA when a GPU is present, else the CPU; any other name is kept."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
