"""Damaging files the way a bad disk or a partial copy would, for the tests of checksums on cached state."""

from __future__ import annotations

from pathlib import Path


def flip_bytes(path: Path, count: int, start: int = 0) -> None:
    """Flip `count` bytes spread evenly over the file after `start` (the size stays the same)."""
    data = bytearray(path.read_bytes())
    step = (len(data) - start) // (count + 1)
    for n in range(1, count + 1):
        data[start + n * step] ^= 0xA5
    path.write_bytes(bytes(data))
