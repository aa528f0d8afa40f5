"""Page latency at 8 concurrent clients against /healthz, and queries per page.

    python -m tests.bench.pages        (or `make bench`)

A report, not a test (DESIGN.md "Performance bars"): it exits 0 whether or not the
bars are met, non-zero only when it cannot measure.

1. A PostgreSQL database whose name contains `bench` (DATABASE_URL, default
   `mindweave_bench_pages`), migrated and seeded with `seed_demo --incidents 10000`
   (50 timeline entries each) unless it holds that many already; one open incident
   is given 500 timeline entries.
2. gunicorn (WORKERS processes, DEBUG off, persistent database connections as in
   production) on a free port; a Viewer's session.
3. For each page in turn: CLIENTS threads x REQUESTS requests on kept-alive
   connections, nearest-rank p50/p95; /healthz is measured the same way in the same
   run, and each page's p95 is reported as a ratio to it (bar: within 5x).
4. Queries per page, counted with Django's test client in this process.
"""

import http.client
import os
import subprocess
import sys
import threading
import time
from datetime import timedelta

from tests.bench.figures import figure, save
from tests.bench.paging_latency import (
    BENCH_DIR,
    ROOT,
    SetupError,
    ensure_database,
    free_port,
    healthz_up,
    log,
    machine_facts,
    migrate,
    percentile,
    run_part,
    wait_until,
)

REPORT = BENCH_DIR / "pages.md"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/mindweave_bench_pages"
INCIDENTS = 10_000
LONG_TIMELINE = 500
CLIENTS = 8
REQUESTS = 25  # per client and page
WORKERS = 4
RATIO_BAR = 5.0
LIST_QUERY = "/incidents/?severity=1&severity=2&sort=-detected_at"
ALL_ENTRIES = "{}?timeline=all"  # "Show the N earlier entries": context, not a bar


def prepare(env):
    from django.core.management import call_command
    from django.utils import timezone

    from incidents.models import Incident, Status, TimelineEntry, TimelineKind
    from mindweave_ir.markup import render_markdown

    if Incident.objects.count() < INCIDENTS:
        log(f"seeding {INCIDENTS} incidents (once; kept for later runs)")
        call_command("seed_demo", incidents=INCIDENTS, stdout=open(os.devnull, "w"))  # noqa: SIM115
    incident = Incident.objects.exclude(status=Status.RESOLVED).order_by("id").first()
    missing = LONG_TIMELINE - incident.timeline.count()
    if missing > 0:
        start = timezone.now() - timedelta(hours=12)
        TimelineEntry.objects.bulk_create(
            TimelineEntry(incident=incident, kind=TimelineKind.NOTE,
                          occurred_at=start + timedelta(seconds=60 * n),
                          body=f"Checked **shard {n}**: latency normal.",
                          body_html=render_markdown(f"Checked **shard {n}**: latency normal."))
            for n in range(missing))
    return incident


def session_cookie():
    from django.contrib.auth import (
        BACKEND_SESSION_KEY,
        HASH_SESSION_KEY,
        SESSION_KEY,
        get_user_model,
    )
    from django.contrib.sessions.backends.db import SessionStore

    user = get_user_model().objects.get(username="viewer")
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return f"sessionid={session.session_key}", user


def queries_per_page(paths, user):
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    counts = {}
    for path in paths:
        client.get(path)  # warm any cache the page has, as a repeat visit would
        with CaptureQueriesContext(connection) as captured:
            client.get(path)
        counts[path] = len(captured)
    return counts


def hammer(port, path, cookie):
    latencies, errors = [], []

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for _ in range(REQUESTS):
            started = time.perf_counter()
            conn.request("GET", path, headers={"Cookie": cookie})
            response = conn.getresponse()
            response.read()
            latencies.append(time.perf_counter() - started)
            if response.status != 200:
                errors.append(response.status)
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"p50": percentile(latencies, 50), "p95": percentile(latencies, 95),
            "n": len(latencies), "errors": errors}


def run():
    url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    env = {**os.environ, "DATABASE_URL": url, "DEBUG": "false",
           "SECRET_KEY": os.environ.get("SECRET_KEY") or "bench-only-not-a-secret",
           "ALLOWED_HOSTS": "127.0.0.1", "SECURE_SSL_REDIRECT": "false",
           "SESSION_COOKIE_SECURE": "false", "CSRF_COOKIE_SECURE": "false",
           "SECURE_HSTS_SECONDS": "0", "DJANGO_SETTINGS_MODULE": "mindweave_ir.settings",
           # Persistent connections, as production runs (.env.example); with 0 every
           # request, /healthz included, would also pay for a new PostgreSQL backend.
           "DATABASE_CONN_MAX_AGE": os.environ.get("DATABASE_CONN_MAX_AGE") or "60"}
    ensure_database(url)
    log("migrating")
    migrate({**env, "DEBUG": "true"})
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
                   cwd=ROOT, env=env, check=True)
    os.environ.update(env)
    import django

    django.setup()
    from incidents.views.detail import TIMELINE_RECENT

    incident = prepare(env)
    cookie, user = session_cookie()
    paths = {"/healthz": "/healthz", "dashboard": "/",
             "incident list (SEV-1/2, sorted)": LIST_QUERY,
             f"incident with {LONG_TIMELINE} entries (latest {TIMELINE_RECENT} shown)":
                 incident.get_absolute_url(),
             "metrics": "/reports/metrics/",
             f"same incident, all {LONG_TIMELINE} entries shown": ALL_ENTRIES.format(
                 incident.get_absolute_url())}
    counts = queries_per_page(list(paths.values()), user)
    port = free_port()
    logfile = open(BENCH_DIR / "gunicorn-pages.log", "w")  # noqa: SIM115 (closed below)
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "mindweave_ir.wsgi", "--workers", str(WORKERS),
         "--bind", f"127.0.0.1:{port}"], cwd=ROOT, env=env, stdout=logfile,
        stderr=subprocess.STDOUT)
    try:
        if not wait_until(lambda: healthz_up(port), 30):
            raise SetupError("gunicorn did not answer /healthz")
        results = {}
        for label, path in paths.items():
            hammer(port, path, cookie)  # warm-up round, not counted
            log(f"measuring {label}")
            results[label] = hammer(port, path, cookie)
    finally:
        server.terminate()
        server.wait(timeout=20)
        logfile.close()
    report = render(machine_facts("n/a"), paths, results, counts)
    REPORT.write_text(report)
    save("pages", headline(paths, results, counts))
    print(report, flush=True)
    log(f"report written to {REPORT.relative_to(ROOT)}")


def _has_bar(label, path):
    return label != "/healthz" and not path.endswith("?timeline=all")


def headline(paths, results, counts):
    """The figures for the combined report (tests/bench/figures.py)."""
    base = results["/healthz"]["p95"]
    rows = [figure(f"/healthz p50 / p95 at {CLIENTS} clients",
                   f"{results['/healthz']['p50'] * 1000:.1f} / {base * 1000:.1f} ms",
                   note="the trivial view every page is compared with")]
    for label, path in paths.items():
        if label == "/healthz":
            continue
        r = results[label]
        ratio = r["p95"] / base if base else float("inf")
        errors = f", {len(r['errors'])} non-200" if r["errors"] else ""
        value = f"{r['p95'] * 1000:.1f} ms ({counts[path]} queries{errors})"
        if _has_bar(label, path):
            rows.append(figure(f"{label}: p95 at {CLIENTS} clients", value,
                               f"≤ {RATIO_BAR:g}x /healthz p95",
                               ratio <= RATIO_BAR and not r["errors"], ratio=round(ratio, 1)))
        else:
            rows.append(figure(f"{label}: p95 at {CLIENTS} clients", value,
                               ratio=round(ratio, 1), note="context: no bar of its own"))
    return rows


def render(facts, paths, results, counts):
    base = results["/healthz"]["p95"]
    lines = ["# Page latency benchmark", "", "| fact | value |", "| --- | --- |",
             *(f"| {k} | {v} |" for k, v in facts), "",
             f"{INCIDENTS} seeded incidents (50 timeline entries each), gunicorn with "
             f"{WORKERS} workers (DEBUG off, DATABASE_CONN_MAX_AGE="
             f"{os.environ.get('DATABASE_CONN_MAX_AGE')}), {CLIENTS} concurrent clients x "
             f"{REQUESTS} "
             "requests per page after a warm-up round, a Viewer's session.", "",
             "| page | p50 | p95 | p95 / healthz p95 | queries | bar (within 5x) |",
             "| --- | --- | --- | --- | --- | --- |"]
    for label, path in paths.items():
        r = results[label]
        ratio = r["p95"] / base if base else float("inf")
        verdict = ("—" if not _has_bar(label, path)
                   else "met" if ratio <= RATIO_BAR and not r["errors"] else "**not met**")
        errors = f" ({len(r['errors'])} non-200)" if r["errors"] else ""
        lines.append(f"| {label}{errors} | {r['p50'] * 1000:.1f} ms | {r['p95'] * 1000:.1f} ms"
                     f" | {ratio:.1f} | {counts[path]} | {verdict} |")
    return "\n".join(lines) + "\n"


def main():
    return run_part(run)


if __name__ == "__main__":
    sys.exit(main())
