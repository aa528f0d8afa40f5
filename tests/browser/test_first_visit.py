"""A first visit, as a new user makes it: nothing on the way fails in the browser."""

import re

import pytest
from playwright.sync_api import expect

from .test_ic_flow import log_in

pytestmark = [pytest.mark.browser,
              pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_login_and_dashboard_load_with_no_failed_request_or_console_error(page, ic):
    failed, errors = [], []
    page.on("response", lambda r: r.status >= 400 and failed.append(f"{r.status} {r.url}"))
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))

    log_in(page, "ic")
    page.reload()
    expect(page.get_by_role("heading", name=re.compile("Active incidents"))).to_be_visible()
    # The icon the browser shows in the tab is ours, not a 404.
    icon = page.evaluate("fetch('/favicon.ico').then(r => [r.status, r.url])")

    assert failed == [] and errors == []
    assert icon[0] == 200 and icon[1].endswith("/static/favicon.svg")
