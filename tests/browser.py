"""Headless Chromium for the web form tests: the Debian package, driven by Playwright.

Playwright never downloads a browser here; `.ci/run` installs `chromium` (and a CJK font).
Screenshots go to test-artifacts/ at the repository root.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"

# The flags a root-run, offline headless Chromium needs (no sandbox as root, no background
# connections to hosts this machine cannot reach).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--lang=ko-KR",  # the browser's own labels (file inputs) in Korean, as a person here sees
]


def chromium_path() -> str:
    for candidate in (
        os.environ.get("RIGHTSDESK_TEST_CHROMIUM"),
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
        "/usr/bin/chromium",
    ):
        if candidate and Path(candidate).exists():
            return candidate
    pytest.fail("Chromium not found: apt-get install chromium (the CI script does this)")


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield b
        b.close()


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page screenshot as a test artifact and return its path."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
