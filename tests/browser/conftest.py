"""Real Chromium (Debian's package) driven by Playwright against the live server.

Playwright never downloads a browser here: it launches /usr/bin/chromium. A
failing test leaves a screenshot under var/browser-failures/.
"""

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.conftest import CHROMIUM

# A slow machine (two cores, a worker and a live server beside Chromium) can take more
# than Playwright's 5 s default to settle a swap; a real failure still fails, later.
expect.set_options(timeout=10_000)

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests
# make around it are still plain synchronous calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

FAILURES = Path(__file__).resolve().parents[2] / "var" / "browser-failures"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call" and report.failed and "page" in item.funcargs:
        FAILURES.mkdir(parents=True, exist_ok=True)
        item.funcargs["page"].screenshot(path=str(FAILURES / f"{item.name}.png"),
                                         full_page=True)
    return report


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280,
                                                                       "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()
