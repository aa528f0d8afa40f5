"""The Content-Security-Policy allows no inline script, and no template needs one."""

import re
from pathlib import Path

import pytest

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/accounts/login/", "/status/", "/healthz", "/"])
def test_every_response_carries_the_policy(client, viewer, url):
    client.force_login(viewer)

    policy = client.get(url)["Content-Security-Policy"]

    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy.split("script-src", 1)[1].split(";", 1)[0]
    assert "frame-ancestors 'none'" in policy


def test_no_template_has_an_inline_script_or_event_handler():
    offenders = []
    for path in TEMPLATES.rglob("*.html"):
        if "email" in path.parts:  # e-mails are not served under the policy
            continue
        text = path.read_text()
        offenders += [f"{path.relative_to(TEMPLATES)}: {m.group(0)}"
                      for m in (*INLINE_SCRIPT.finditer(text), *HANDLER.finditer(text))]

    assert offenders == []
