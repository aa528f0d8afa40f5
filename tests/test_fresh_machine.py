"""A fresh machine: the demo's .env, the README's commands, and life without Pango.

The README promises that after `make run` every documented `manage.py` command works
from a plain shell, and that only Python is needed: without WeasyPrint's system
libraries every page but the PDFs works, and the PDFs say what to install.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from mindweave_ir import localenv, syslibs
from reports.models import PostIncidentReview
from tests.reports.factories import resolved_incident

ROOT = Path(settings.BASE_DIR)
README = (ROOT / "README.md").read_text(encoding="utf-8")


def plain_shell_env(**extra):
    """The environment of a new terminal: PATH and HOME, nothing of ours."""
    env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}
    env.update(extra)
    return env


def python(code, *, env, timeout=60):
    return subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=timeout,
    )


# --- the demo's .env -----------------------------------------------------------------------


def test_create_writes_debug_a_secret_key_and_site_url_once(tmp_path):
    path = tmp_path / ".env"

    assert localenv.create(path, port=8000) is True
    first = path.read_text()
    assert localenv.create(path, port=9000) is False  # never overwrites

    assert path.read_text() == first
    assert "DEBUG=true" in first and "SITE_URL=http://127.0.0.1:8000" in first
    key = re.search(r"^SECRET_KEY=(\S+)$", first, re.M).group(1)
    assert len(key) >= 50
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    tmp_path.joinpath("other.env").unlink(missing_ok=True)
    localenv.create(tmp_path / "other.env")
    assert key not in (tmp_path / "other.env").read_text()  # a new key each time


def test_serve_points_a_local_site_url_at_the_port_and_leaves_a_real_one(tmp_path):
    path = tmp_path / ".env"
    localenv.create(path)

    assert localenv.serve(path, port=8101) == "http://127.0.0.1:8101"
    assert "SITE_URL=http://127.0.0.1:8101\n" in path.read_text()
    assert "DEBUG=true" in path.read_text()

    path.write_text(path.read_text().replace("http://127.0.0.1:8101", "https://ir.example.com"))
    assert localenv.serve(path, port=8000) == "https://ir.example.com"
    assert "SITE_URL=https://ir.example.com" in path.read_text()


SHOW_SETTINGS = ("import django, os; os.environ['DJANGO_SETTINGS_MODULE']='mindweave_ir.settings';"
                 "from django.conf import settings as s;"
                 "print(s.DEBUG, s.SITE_URL, len(s.SECRET_KEY))")


def test_settings_read_the_file_and_the_real_environment_wins(tmp_path):
    path = tmp_path / ".env"
    localenv.create(path, port=8101)

    from_file = python(SHOW_SETTINGS, env=plain_shell_env(MINDWEAVE_ENV_FILE=str(path)))
    overridden = python(SHOW_SETTINGS, env=plain_shell_env(
        MINDWEAVE_ENV_FILE=str(path), SITE_URL="https://ir.example.com"))

    assert from_file.returncode == 0, from_file.stderr
    assert from_file.stdout.split() == ["True", "http://127.0.0.1:8101", "67"]
    assert overridden.stdout.split()[1] == "https://ir.example.com"


def test_without_the_file_production_still_refuses_to_start_without_a_secret_key(tmp_path):
    result = python(SHOW_SETTINGS, env=plain_shell_env(MINDWEAVE_ENV_FILE=""))
    missing = python(SHOW_SETTINGS, env=plain_shell_env(
        MINDWEAVE_ENV_FILE=str(tmp_path / "nothing-here.env")))

    for run in (result, missing):
        assert run.returncode != 0
        assert "SECRET_KEY must be set when DEBUG is not true" in run.stderr


README_COMMANDS = [
    "python manage.py create_integration --kind alertmanager --name Prometheus",
    "python manage.py create_integration --kind events --name Datadog",
    'python manage.py create_heartbeat --name "Nightly backup" --integration Prometheus '
    "--interval 1440",
]


def test_the_readmes_manage_py_commands_run_as_written_from_a_plain_shell(tmp_path):
    """What a new user does after `make run`: the README's commands, in a new terminal
    with the virtualenv active and no variables set. Only .env (as make writes it) and
    the database (as make run migrates it) are there."""
    flat = " ".join(README.split())
    for command in README_COMMANDS:
        assert command in flat, f"README no longer shows: {command}"
    env_file = tmp_path / ".env"
    localenv.create(env_file)
    env = plain_shell_env(MINDWEAVE_ENV_FILE=str(env_file), MINDWEAVE_VAR_DIR=str(tmp_path))
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"  # `source .venv/bin/activate`

    steps = ["python manage.py migrate --noinput", *README_COMMANDS]
    outputs = []
    for command in steps:
        run = subprocess.run(  # noqa: S602 - the README's literal commands, in a shell
            command, shell=True, cwd=ROOT, env=env, capture_output=True, text=True,
            timeout=300)
        assert run.returncode == 0, f"{command}\n{run.stdout}\n{run.stderr}"
        outputs.append(run.stdout)

    assert re.search(r"token", outputs[1], re.I)
    assert "/api/v1/heartbeats/" in outputs[3]
    assert (tmp_path / "db.sqlite3").exists()  # its own database, not the developer's


ON_CALL_AS_CODE = [
    "python manage.py oncall_export > on-call.yaml",
    "python manage.py oncall_apply on-call.yaml --dry-run",
    "python manage.py oncall_apply on-call.yaml",
    "python manage.py runbooks_apply runbooks/ --dry-run",
]


def test_the_readmes_on_call_as_code_commands_run_after_the_demo_is_seeded(tmp_path):
    """README "On-call as code": its commands as written (the file and folder moved to
    a scratch directory), after `make run` has seeded the demo."""
    flat = " ".join(README.split())
    for command in ON_CALL_AS_CODE:
        assert command in flat, f"README no longer shows: {command}"
    env_file = tmp_path / ".env"
    localenv.create(env_file)
    env = plain_shell_env(MINDWEAVE_ENV_FILE=str(env_file), MINDWEAVE_VAR_DIR=str(tmp_path))
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    shutil.copytree(ROOT / "tests" / "incidents" / "files" / "runbooks", tmp_path / "runbooks")
    outputs = []
    for command in ["python manage.py migrate --noinput",
                    "python manage.py seed_demo --incidents 0", *ON_CALL_AS_CODE]:
        command = command.replace("on-call.yaml", str(tmp_path / "on-call.yaml"))
        command = command.replace("runbooks/", str(tmp_path / "runbooks"))
        run = subprocess.run(  # noqa: S602 - the README's literal commands, in a shell
            command, shell=True, cwd=ROOT, env=env, capture_output=True, text=True,
            timeout=300)
        assert run.returncode == 0, f"{command}\n{run.stdout}\n{run.stderr}"
        outputs.append(run.stdout)
    assert "name: Primary On-Call" in (tmp_path / "on-call.yaml").read_text()
    assert outputs[3].strip() == outputs[4].strip() == "No changes."
    assert "+ runbook 'Runbook: Service Unavailable'" in outputs[5]


# --- without WeasyPrint's system libraries -------------------------------------------------


class NoPango:
    """An import hook that fails `import weasyprint` as a machine without Pango does."""

    def find_spec(self, name, path=None, target=None):
        if name == "weasyprint" or name.startswith("weasyprint."):
            raise OSError("cannot load library 'libgobject-2.0-0': "
                          "libgobject-2.0-0: cannot open shared object file")
        return None


@pytest.fixture
def no_pango(monkeypatch):
    for name in list(sys.modules):
        if name == "weasyprint" or name.startswith(("weasyprint.", "reports.pdf.engine")):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(sys, "meta_path", [NoPango(), *sys.meta_path])
    syslibs.pdf_problem.cache_clear()
    yield
    syslibs.pdf_problem.cache_clear()


def test_no_module_of_the_app_imports_weasyprint_until_a_pdf_is_rendered():
    """In a fresh interpreter: the URLconf, the admin and every app module load, and
    WeasyPrint is still not imported (only reports.pdf.engine, the renderer, does)."""
    code = """
import importlib, pkgutil, sys, django
django.setup()
import mindweave_ir.urls
from django.urls import get_resolver
get_resolver().url_patterns
for package in ("mindweave_ir", "oncall", "incidents", "reports"):
    root = importlib.import_module(package)
    for info in pkgutil.walk_packages(root.__path__, package + "."):
        if ".migrations" in info.name or info.name == "reports.pdf.engine":
            continue
        importlib.import_module(info.name)
loaded = sorted(m for m in sys.modules if m.split(".")[0] == "weasyprint")
print("weasyprint modules:", len(loaded), loaded[:3])
"""
    run = python(code, env=plain_shell_env(DEBUG="true", MINDWEAVE_ENV_FILE="",
                                           DJANGO_SETTINGS_MODULE="mindweave_ir.settings"))

    assert run.returncode == 0, run.stderr
    assert "weasyprint modules: 0 []" in run.stdout


def test_without_pango_the_probe_names_the_missing_library_and_the_install_line(no_pango):
    problem = syslibs.pdf_problem()

    assert "libgobject-2.0-0" in problem
    assert "apt-get install -y libpango-1.0-0 libpangoft2-1.0-0" in problem
    assert "brew install pango" in problem


def test_without_pango_every_page_works_and_the_pdfs_say_what_to_install(
        no_pango, client, manager):
    pir = PostIncidentReview.objects.get(incident=resolved_incident(manager))
    client.force_login(manager)
    for url in ("/", "/incidents/", f"/incidents/{pir.incident.ref}/",
                f"/reports/pir/{pir.incident.ref}/", "/reports/handoffs/", "/reports/metrics/",
                "/oncall/schedules/", "/admin/", "/status/",
                reverse("admin:reports_postincidentreview_change", args=[pir.pk])):
        assert client.get(url).status_code == 200, url

    response = client.get(f"/reports/pir/{pir.incident.ref}.pdf")
    assert response.status_code == 503
    text = response.content.decode()
    assert "PDF export is not available" in text
    assert "apt-get install -y libpango-1.0-0" in text and "brew install pango" in text

    exported = client.post(reverse("admin:reports_postincidentreview_changelist"), {
        "action": "export_pdf", ACTION_CHECKBOX_NAME: [pir.pk]}, follow=True)
    assert exported.status_code == 200
    assert "apt-get install -y libpango-1.0-0" in exported.content.decode()
    assert PostIncidentReview.objects.filter(pk=pir.pk).exists()

    ready = client.get("/readyz").json()
    assert ready["ready"] is True and ready["database"] == "ok"
    assert ready["pdf"].startswith("unavailable: PDF export is unavailable")


def test_make_run_start_up_output_names_the_missing_part():
    hook = ("import sys\n"
            "class H:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name.split('.')[0] == 'weasyprint':\n"
            "            raise OSError(\"cannot load library 'libpango-1.0-0'\")\n"
            "sys.meta_path.insert(0, H())\n"
            "from mindweave_ir import syslibs\n"
            "syslibs.main()\n")
    missing = python(hook, env=plain_shell_env())
    present = subprocess.run(  # noqa: S603 - our interpreter, fixed arguments
        [sys.executable, "-m", "mindweave_ir.syslibs"], cwd=ROOT, env=plain_shell_env(),
        capture_output=True, text=True, timeout=60)

    assert "PDF export is unavailable" in missing.stdout
    assert "libpango-1.0-0" in missing.stdout and "brew install pango" in missing.stdout
    if syslibs.pdf_problem():
        assert "PDF export is unavailable" in present.stdout
    else:
        assert "PDF export: ready" in present.stdout


def test_the_favicon_is_linked_and_served(client, viewer):
    client.force_login(viewer)
    page = client.get("/").content.decode()

    assert re.search(r'<link rel="icon" href="/static/favicon\.svg"', page)
    redirect = client.get("/favicon.ico")
    assert redirect.status_code == 301 and redirect["Location"] == "/static/favicon.svg"
    client.logout()
    assert client.get("/favicon.ico").status_code == 301  # no login needed
    assert (ROOT / "static" / "favicon.svg").read_text().startswith("<svg")
