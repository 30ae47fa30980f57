"""A rehearsal (the real bot, the Slack stand-in, the demo) on the session's sandbox, and a real
headless Chromium (the system's, driven by Playwright) looking at its page."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from standins.run import Rehearsal


def chromium() -> str | None:
    """Debian's chromium: the binary itself (the /usr/bin/chromium wrapper is a shell script)."""
    for candidate in ("/usr/lib/chromium/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


@pytest.fixture
def rehearsal(sandbox, unique):
    """Its own topic prefix, so it meets nothing other tests left on the shared sandbox."""
    running = Rehearsal(sandbox, prefix=f"shop{unique}").start()
    try:
        yield running
    finally:
        running.stop()
        running.demo.connectors.remove()  # from both Connect clusters


@pytest.fixture
def browser_page(tmp_path):
    executable = chromium()
    if executable is None:  # a failure, not a skip: the project's setup (.ci/run) installs it
        pytest.fail("no chromium on this machine: apt-get install chromium (.ci/run does)")
    from playwright import sync_api  # a dev dependency (make install)

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=["--no-sandbox"]
        )
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1000})
            yield page
        finally:
            browser.close()
