"""`manage.py runbooks_apply DIR`: the handbook's §4 runbooks from Markdown files."""

import shutil
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from incidents.models import Runbook, Service

FILES = Path(__file__).parent / "files" / "runbooks"

pytestmark = pytest.mark.django_db


@pytest.fixture
def folder(tmp_path):
    for slug, name in (("api-gateway", "API Gateway"), ("web-app", "Web App")):
        Service.objects.get_or_create(slug=slug, defaults={"name": name})
    target = tmp_path / "runbooks"
    shutil.copytree(FILES, target)
    return target


def run(*args):
    out = StringIO()
    call_command("runbooks_apply", *map(str, args), stdout=out)
    return out.getvalue()


def test_runbooks_are_made_from_the_handbook_markdown(folder):
    out = run(folder)
    assert "+ runbook 'Runbook: Service Unavailable'" in out
    runbook = Runbook.objects.get(title="Runbook: Service Unavailable")
    assert runbook.alert_name_list() == ["ServiceDown", "HealthCheckFailed"]
    assert [s.slug for s in runbook.services.all()] == ["api-gateway"]
    assert runbook.body.startswith("# Runbook: Service Unavailable\n")
    assert "kubectl rollout undo deployment/api-gateway" in runbook.body
    assert "Check Pod Status" in " ".join(runbook.steps()) or runbook.steps()
    high = Runbook.objects.get(title="Runbook: High Error Rate")
    assert sorted(s.slug for s in high.services.all()) == ["api-gateway", "web-app"]


def test_applying_twice_says_no_changes_and_dry_run_changes_nothing(folder):
    run(folder)
    assert run(folder).strip() == "No changes."
    path = folder / "service-down.md"
    path.write_text(path.read_text().replace("after 15 minutes", "after 10 minutes"))
    out = run(folder, "--dry-run")
    assert "~ runbook 'Runbook: Service Unavailable'" in out
    assert "+If issue persists after 10 minutes:" in out
    assert "after 15 minutes" in Runbook.objects.get(title="Runbook: Service Unavailable").body
    run(folder)
    assert "after 10 minutes" in Runbook.objects.get(title="Runbook: Service Unavailable").body


def test_a_bad_file_refuses_all_files(folder):
    (folder / "zz-bad.md").write_text("---\nservices: [no-such-service]\n---\n# Bad\n")
    with pytest.raises(CommandError) as refused:
        run(folder)
    assert "unknown service 'no-such-service'" in str(refused.value)
    assert not Runbook.objects.filter(title__startswith="Runbook: ").exists()


def test_markdown_from_files_is_shown_sanitised(folder):
    (folder / "evil.md").write_text("# Evil\n\n<script>alert(1)</script>\n"
                                    "[x](javascript:alert(1))\n")
    run(folder)
    html = Runbook.objects.get(title="Evil").body_html()
    assert "<script" not in html and "javascript:" not in html
