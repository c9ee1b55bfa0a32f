"""Headless Debian chromium for browser tests (`make test` installs it; nothing is downloaded)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import BrowserContext, sync_playwright

from scripts.local_stack import ROOT

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "results" / "screenshots"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def chromium(width: int, height: int) -> Iterator[BrowserContext]:
    """A headless chromium with a fresh profile, Chinese locale and Beijing time; fails (not
    skips) when chromium is missing."""
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: run scripts/ensure-system-packages.sh"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix="chromium-") as profile,
        sync_playwright() as playwright,
    ):
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            headless=True,
            args=ARGS,
            viewport={"width": width, "height": height},
            locale="zh-CN",
            timezone_id="Asia/Shanghai",
        )
        try:
            yield context
        finally:
            context.close()
