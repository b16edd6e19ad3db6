"""Helpers the tests share: a free local port, and the cache where the demo store's index and trained NLU are kept."""

from __future__ import annotations

import os
import socket
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_cache_dir() -> Path:
    """`.shopbot_cache/tests` (or `SHOPBOT_TEST_CACHE`): the demo's index and NLU, kept by data fingerprint, so
    they are built once per machine; shared by the fixtures and the tests that start real server processes."""
    return Path(os.environ.get("SHOPBOT_TEST_CACHE") or PROJECT_ROOT / ".shopbot_cache" / "tests")


test_cache_dir.__test__ = False  # a helper, not a test, despite its name
