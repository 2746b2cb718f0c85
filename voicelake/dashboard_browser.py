"""Drive the dashboard in headless Chromium (Playwright with the system's browser: no browser
download). Used by the browser tests and by bench/bench_dashboard.py.

The browser is Debian's ``chromium`` (``make browser`` installs it where it may); `find_chromium`
says where it is, or None, and callers skip with that reason rather than pass silently.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Chromium on a machine without network: no background requests, no sandbox as root, no GPU.
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage"]
PAGE_TIMEOUT_MS = 120_000


def find_chromium() -> str | None:
    """The Chromium executable: $VOICELAKE_CHROMIUM, else chromium / chromium-browser on PATH."""
    configured = os.environ.get("VOICELAKE_CHROMIUM")
    if configured:
        return configured if Path(configured).exists() else None
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def missing_browser_reason() -> str | None:
    """Why the dashboard cannot be driven here (None when it can)."""
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "playwright is not installed (it is a dev dependency: make install)"
    if find_chromium() is None:
        return "no Chromium found (run `make browser`, or set VOICELAKE_CHROMIUM to a Chromium executable)"
    return None


@contextmanager
def browser_page() -> Iterator[Any]:
    """A Playwright page in a fresh headless Chromium."""
    from playwright.sync_api import sync_playwright

    executable = find_chromium()
    if executable is None:
        raise FileNotFoundError(missing_browser_reason())
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1400})
            page.set_default_timeout(PAGE_TIMEOUT_MS)
            yield page
        finally:
            browser.close()


@dataclass(frozen=True)
class PageLoad:
    path: str
    title: str
    seconds: float          # from navigation until the page's headline (or its "no data") is drawn
    headline: str | None    # the text of #kpi, None when the page says "No data yet"
    charts: int             # plotly charts drawn
    screenshot: str


def load(page: Any, url: str, screenshot: Path) -> PageLoad:
    """Open ``url``, wait until the page's content is drawn, screenshot it."""
    started = time.perf_counter()
    page.goto(url)
    page.wait_for_selector("#page-title")
    page.wait_for_selector("#kpi, .no-data")
    page.wait_for_load_state("networkidle")
    seconds = time.perf_counter() - started
    headline = page.inner_text("#kpi") if page.query_selector("#kpi") else None
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(screenshot), full_page=True)
    return PageLoad(url, page.inner_text("#page-title"), seconds, headline,
                    len(page.query_selector_all(".js-plotly-plot")), str(screenshot))


def choose(page: Any, dropdown_id: str, label: str) -> None:
    """Pick an option of a Dash dropdown by its label and wait for the page to redraw."""
    before = page.inner_text("#kpi") if page.query_selector("#kpi") else None
    page.click(f"#{dropdown_id}")
    page.get_by_role("option", name=label, exact=True).click()
    if before is not None:
        page.wait_for_function("before => document.querySelector('#kpi') && "
                               "document.querySelector('#kpi').innerText !== before", arg=before)
    page.wait_for_load_state("networkidle")
