"""Headless Chromium from Debian (`/usr/bin/chromium`; never a browser a test tool downloads). Without chromium
the browser tests skip, unless SHOPBOT_REQUIRE_BROWSER=1 makes them fail. The server is `live_server`
(tests/conftest.py)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

WEBCHAT = Path(__file__).parent / "node_modules" / "rasa-webchat" / "lib" / "index.js"


def chromium_path() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("SHOPBOT_REQUIRE_BROWSER") == "1":
            pytest.fail("Debian's chromium is required (SHOPBOT_REQUIRE_BROWSER=1): apt-get install chromium")
        pytest.skip("no chromium on this machine (apt-get install chromium)")
    return found


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    path = chromium_path()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=path, args=["--no-sandbox", "--headless=new"])
        yield chromium
        chromium.close()
