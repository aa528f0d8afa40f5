"""The cost of an unchanged live update: 50 watchers polling one incident, against
/healthz (DESIGN.md: "An unchanged live update of an incident page (50 watchers): cost
near /healthz").

    python -m tests.bench.live_poll     (or BENCH_PARTS=live make bench)

A report, not a test: it exits 0 whether or not the bar is met, non-zero only when it
cannot measure.

1. A PostgreSQL database whose name contains `bench` (DATABASE_URL, default
   `mindweave_bench_live`), migrated; one open incident and WATCHERS Viewers, each
   with a session of their own (made once, kept).
2. gunicorn (WORKERS sync processes, DEBUG off, persistent database connections as in
   production) on a free port.
3. WATCHERS threads, one per Viewer, each sending REQUESTS polls of
   `/incidents/<ref>/live/?v=<current>` (204, nothing rendered) as fast as answered:
   far harsher than watchers polling every 2 s, so the figure is the poll's cost under
   load, not idle time. /healthz is measured the same way (same threads, same
   sessions) in the same run; the bar compares the p95s.
4. For context, no bar: the same watchers polling with a stale version (every poll
   renders the page's sections: what each watcher pays once per change).
"""

import http.client
import os
import subprocess
import sys
import threading
import time

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

REPORT = BENCH_DIR / "live.md"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/mindweave_bench_live"
WATCHERS = 50
REQUESTS = 20  # per watcher and measure
WORKERS = 4
RATIO_BAR = 2.0  # "near /healthz": within 2x its p95


def prepare():
    """The watched incident and one session cookie per watcher."""
    from django.contrib.auth import (
        BACKEND_SESSION_KEY,
        HASH_SESSION_KEY,
        SESSION_KEY,
        get_user_model,
    )
    from django.contrib.auth.models import Group
    from django.contrib.sessions.backends.db import SessionStore

    from incidents import services
    from incidents.models import Incident, Severity, Status
    from oncall.roles import Role

    users = get_user_model().objects
    commander, _ = users.get_or_create(username="bench-live-ic", defaults={"first_name": "IC"})
    commander.groups.add(Group.objects.get_or_create(name=Role.INCIDENT_COMMANDER)[0])
    incident = (Incident.objects.exclude(status=Status.RESOLVED)
                .filter(declared_by=commander).order_by("pk").first())
    if incident is None:
        incident = services.declare_incident(title="Checkout latency 12x normal",
                                             severity=Severity.SEV2, by=commander)
    viewer_group = Group.objects.get_or_create(name=Role.VIEWER)[0]
    cookies = []
    for n in range(WATCHERS):
        user, _ = users.get_or_create(username=f"bench-watcher-{n:02}")
        user.groups.add(viewer_group)
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        cookies.append(f"sessionid={session.session_key}")
    return incident, cookies


def poll(port, path, cookies, expected):
    """Every watcher sends REQUESTS requests to `path` at once; latencies and the
    statuses that were not `expected`."""
    latencies, errors = [], []

    def watcher(cookie):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for _ in range(REQUESTS):
            started = time.perf_counter()
            conn.request("GET", path, headers={"Cookie": cookie})
            response = conn.getresponse()
            response.read()
            latencies.append(time.perf_counter() - started)
            if response.status != expected:
                errors.append(response.status)
        conn.close()

    threads = [threading.Thread(target=watcher, args=(c,)) for c in cookies]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return {"p50": percentile(latencies, 50), "p95": percentile(latencies, 95),
            "n": len(latencies), "errors": errors, "rate": len(latencies) / elapsed}


def queries_of_unchanged_poll(path, cookie_user):
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(cookie_user)
    client.get(path)
    with CaptureQueriesContext(connection) as captured:
        status = client.get(path).status_code
    if status != 204:
        raise SetupError(f"an unchanged poll answered {status}, not 204")
    return len(captured)


def run():
    url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    env = {**os.environ, "DATABASE_URL": url, "DEBUG": "false",
           "SECRET_KEY": os.environ.get("SECRET_KEY") or "bench-only-not-a-secret",
           "ALLOWED_HOSTS": "127.0.0.1", "SECURE_SSL_REDIRECT": "false",
           "SESSION_COOKIE_SECURE": "false", "CSRF_COOKIE_SECURE": "false",
           "SECURE_HSTS_SECONDS": "0", "DJANGO_SETTINGS_MODULE": "mindweave_ir.settings",
           "DATABASE_CONN_MAX_AGE": os.environ.get("DATABASE_CONN_MAX_AGE") or "60"}
    ensure_database(url)
    log("migrating")
    migrate({**env, "DEBUG": "true"})
    os.environ.update(env)
    import django

    django.setup()
    from django.contrib.auth import get_user_model

    from mindweave_ir.live import versions

    incident, cookies = prepare()
    current = versions.version(versions.incident_key(incident.pk))
    live = f"/incidents/{incident.ref}/live/"
    unchanged, stale = f"{live}?v={current}", f"{live}?v=stale"
    queries = queries_of_unchanged_poll(
        unchanged, get_user_model().objects.get(username="bench-watcher-00"))
    port = free_port()
    logfile = open(BENCH_DIR / "gunicorn-live.log", "w")  # noqa: SIM115 (closed below)
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "mindweave_ir.wsgi", "--workers", str(WORKERS),
         "--bind", f"127.0.0.1:{port}"], cwd=ROOT, env=env, stdout=logfile,
        stderr=subprocess.STDOUT)
    try:
        if not wait_until(lambda: healthz_up(port), 30):
            raise SetupError("gunicorn did not answer /healthz")
        results = {}
        for label, path, expected in (("/healthz", "/healthz", 200),
                                      ("unchanged live update", unchanged, 204),
                                      ("changed live update (sections rendered)", stale, 200)):
            poll(port, path, cookies[:8], expected)  # warm-up, not counted
            log(f"measuring {label}")
            results[label] = poll(port, path, cookies, expected)
    finally:
        server.terminate()
        server.wait(timeout=20)
        logfile.close()
    report = render(machine_facts("n/a"), results, queries)
    REPORT.write_text(report)
    save("live", headline(results, queries))
    print(report, flush=True)
    log(f"report written to {REPORT.relative_to(ROOT)}")


def headline(results, queries):
    """The figures for the combined report (tests/bench/figures.py)."""
    base = results["/healthz"]["p95"]
    rows = [figure(f"/healthz p50 / p95 at {WATCHERS} clients",
                   f"{results['/healthz']['p50'] * 1000:.1f} / {base * 1000:.1f} ms",
                   note="the floor the live update is compared with")]
    r = results["unchanged live update"]
    ratio = r["p95"] / base if base else float("inf")
    errors = f", {len(r['errors'])} not 204" if r["errors"] else ""
    rows.append(figure(f"unchanged live update of one incident, {WATCHERS} watchers: p95",
                       f"{r['p95'] * 1000:.1f} ms ({queries} queries, 204{errors}; "
                       f"{r['rate']:.0f} req/s, /healthz {results['/healthz']['rate']:.0f})",
                       f"near /healthz (≤ {RATIO_BAR:g}x its p95)",
                       ratio <= RATIO_BAR and not r["errors"], ratio=round(ratio, 1)))
    r = results["changed live update (sections rendered)"]
    rows.append(figure(f"changed live update, {WATCHERS} watchers: p95",
                       f"{r['p95'] * 1000:.1f} ms",
                       ratio=round(r["p95"] / base, 1) if base else None,
                       note="context: paid once per change by each watcher"))
    return rows


def render(facts, results, queries):
    base = results["/healthz"]["p95"]
    lines = ["# Live update benchmark", "", "| fact | value |", "| --- | --- |",
             *(f"| {k} | {v} |" for k, v in facts), "",
             f"One open incident, {WATCHERS} Viewers each with a session of their own, "
             f"gunicorn with {WORKERS} sync workers (DEBUG off, DATABASE_CONN_MAX_AGE="
             f"{os.environ.get('DATABASE_CONN_MAX_AGE')}); every watcher sends {REQUESTS} "
             "requests back to back after a warm-up round (browsers poll every 2 s: "
             f"this is far harsher). An unchanged poll runs {queries} queries.", "",
             "| request | p50 | p95 | p95 / healthz p95 | requests/s | bar |",
             "| --- | --- | --- | --- | --- | --- |"]
    for label, r in results.items():
        ratio = r["p95"] / base if base else float("inf")
        verdict = "—"
        if label == "unchanged live update":
            verdict = ("met" if ratio <= RATIO_BAR and not r["errors"] else "**not met**") \
                + f" (≤ {RATIO_BAR:g}x)"
        errors = f" ({len(r['errors'])} unexpected statuses)" if r["errors"] else ""
        lines.append(f"| {label}{errors} | {r['p50'] * 1000:.1f} ms | {r['p95'] * 1000:.1f} ms"
                     f" | {ratio:.1f} | {r['rate']:.0f} | {verdict} |")
    return "\n".join(lines) + "\n"


def main():
    return run_part(run)


if __name__ == "__main__":
    sys.exit(main())
