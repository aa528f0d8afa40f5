"""Shared fixtures, and the rules for what may be skipped where.

`make test` on a bare machine skips tests that need PostgreSQL or Chromium, each
with its reason. Under CI (CI=true) any skip fails the run: CI has everything.
"""

import os
import shutil
from datetime import datetime

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.db import connection

from mindweave_ir.syslibs import pdf_problem
from oncall.roles import Role

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium")


# `make test-clock` runs the suite with the whole process's clock started at an awkward
# instant (a Sunday night, a DST change, a year end, a leap day) and ticking from there:
# MINDWEAVE_TEST_CLOCK=2027-03-14T06:50:00Z. Tests that move time themselves
# (time_machine.travel) nest inside it. Chromium keeps the real clock, so the browser
# tests are left out of those runs and must not depend on the date anyway.
TEST_CLOCK = os.environ.get("MINDWEAVE_TEST_CLOCK", "")


def pytest_configure(config):
    if TEST_CLOCK:
        start = datetime.fromisoformat(TEST_CLOCK.replace("Z", "+00:00"))
        if start.tzinfo is None:
            raise pytest.UsageError("MINDWEAVE_TEST_CLOCK needs a zone, e.g. 2027-12-31T23:50Z")
        config._mindweave_clock = time_machine.travel(start, tick=True)
        config._mindweave_clock.start()


def pytest_unconfigure(config):
    clock = getattr(config, "_mindweave_clock", None)
    if clock is not None:
        clock.stop()


def pytest_report_header(config):
    if TEST_CLOCK:
        return f"clock: started at {TEST_CLOCK} (MINDWEAVE_TEST_CLOCK), ticking"
    return None


def pytest_collection_modifyitems(config, items):
    on_postgres = connection.vendor == "postgresql"
    no_pdf = pdf_problem() if any("pdf" in i.keywords for i in items) else ""
    for item in items:
        if "pdf" in item.keywords and no_pdf:
            item.add_marker(pytest.mark.skip(reason=no_pdf))
        if "postgres" in item.keywords and not on_postgres:
            item.add_marker(pytest.mark.skip(
                reason="needs PostgreSQL: set DATABASE_URL=postgres://... (CI does)"))
        if "browser" in item.keywords and not CHROMIUM:
            item.add_marker(pytest.mark.skip(
                reason="needs Chromium: apt-get install -y chromium (CI does)"))


def pytest_sessionfinish(session, exitstatus):
    if os.environ.get("CI") != "true":
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped:
        reporter.write_line(
            f"CI=true: {len(skipped)} test(s) skipped; in CI a skip is a failure.", red=True
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session", autouse=True)
def private_filesystem_broker(tmp_path_factory):
    """With the embedded broker, each test run gets its own queue folder, so two runs
    on one machine (or a `make run` beside `make test`) never take each other's tasks."""
    from mindweave_ir.celery import app

    if not str(app.conf.broker_url).startswith("filesystem://"):
        return
    folder = tmp_path_factory.mktemp("broker")
    for name in ("queue", "control"):
        (folder / name).mkdir()
    app.conf.broker_transport_options = {
        **app.conf.broker_transport_options,
        "data_folder_in": str(folder / "queue"), "data_folder_out": str(folder / "queue"),
        "control_folder": str(folder / "control"),
    }


# The receivers tests send to listen on 127.0.0.1 (and ::1): the suite lets those
# through the way an admin lets an on-premise receiver through. The setting's default
# stays empty; tests/oncall/test_outbound.py clears it to prove local addresses are
# refused.
LOCAL_RECEIVER_NETWORKS = ["127.0.0.1/32", "::1/128"]


@pytest.fixture(autouse=True)
def local_receivers_allowed(settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = LOCAL_RECEIVER_NETWORKS


@pytest.fixture(autouse=True)
def empty_cache():
    """Each test starts with an empty cache, as each starts with its own data: fragments
    are cached under live versions (issue 19), and a rolled-back test's versions are
    the next test's versions too (as after a database restore: README "Production")."""
    from django.core.cache import cache

    from incidents.ingest import wake

    cache.clear()
    wake.forget_trusted()  # what this process saw in the cache, kept by it
    yield
    cache.clear()
    wake.forget_trusted()


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Real hashing costs ~0.5 s a user; tests need a password, not its strength."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def make_user(django_user_model, username, *roles, **extra):
    user = django_user_model.objects.create_user(
        username=username, password="pw-for-tests-only", first_name=username.title(), **extra
    )
    for role in roles:
        # get_or_create: a transactional test's flush removes migration-made groups.
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


@pytest.fixture
def viewer(db, django_user_model):
    return make_user(django_user_model, "viewer", Role.VIEWER)


@pytest.fixture
def responder(db, django_user_model):
    return make_user(django_user_model, "responder", Role.RESPONDER)


@pytest.fixture
def ic(db, django_user_model):
    return make_user(django_user_model, "ic", Role.INCIDENT_COMMANDER)


@pytest.fixture
def manager(db, django_user_model):
    return make_user(django_user_model, "manager", Role.MANAGER, is_staff=True)
