"""Alert ingestion rate: one integration, 8 concurrent senders, gunicorn, PostgreSQL.

    python -m tests.bench.ingest_rate        (or `make bench`)

A report, not a test: it measures, writes var/bench/ingest.md and prints it, and exits
0 whether or not the bar (DESIGN.md: 200 alerts/s sustained on one integration, none
lost, none doubled) is met; non-zero only when it cannot measure.

1. Setup as the paging benchmark (a PostgreSQL database whose name contains `bench`,
   migrated); this run's integration; gunicorn (WORKERS processes) on a free port.
2. SENDERS threads each POST ALERTS_PER_SENDER Alertmanager webhook bodies (one alert
   each, all of one alert group, distinct fingerprints) on a kept-alive connection,
   then replay REPLAYS of their own alerts (which must fold, not double).
3. Rate = bodies answered / wall time; latency per request (nearest-rank p50/p95).
   Afterwards, from the database: alerts stored for the integration (must equal the
   distinct fingerprints: none lost, none doubled), messages folded into them, and
   incidents opened (one: the group's).
"""

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime

from tests.bench.paging_latency import (
    BENCH_DIR,
    ROOT,
    SetupError,
    bench_env,
    check_redis,
    ensure_database,
    log,
    machine_facts,
    migrate,
    percentile,
    wait_until,
)

REPORT = BENCH_DIR / "ingest.md"
SENDERS = 8
ALERTS_PER_SENDER = 250
REPLAYS = 25
WORKERS = 4
RATE_BAR = 200.0


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _alert(run_id, sender, n):
    labels = {"alertname": "BenchStorm", "severity": "warning", "run": run_id,
              "instance": f"web-{sender}-{n}"}
    return {"status": "firing", "labels": labels,
            "annotations": {"summary": f"storm {sender}-{n}"},
            "startsAt": "2026-11-27T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus/graph",
            "fingerprint": f"{run_id}-{sender:02d}-{n:04d}"}


def body(run_id, sender, numbers):
    """One webhook body carrying the alerts `numbers` of this sender (one alert group)."""
    return json.dumps({
        "version": "4", "groupKey": f'{{}}:{{alertname="BenchStorm",run="{run_id}"}}',
        "status": "firing", "receiver": "mindweave", "groupLabels": {"alertname": "BenchStorm"},
        "commonLabels": {"alertname": "BenchStorm"}, "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093", "truncatedAlerts": 0,
        "alerts": [_alert(run_id, sender, n) for n in numbers],
    }).encode()


def sender(port, path, run_id, number, per_body, results):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    numbers = list(range(ALERTS_PER_SENDER)) + list(range(REPLAYS))  # replays: must fold
    for first in range(0, len(numbers), per_body):
        chunk = numbers[first:first + per_body]
        payload = body(run_id, number, chunk)
        started = time.perf_counter()
        try:
            conn.request("POST", path, payload, {"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            status = response.status
        except (OSError, http.client.HTTPException) as exc:
            status = f"error: {exc}"
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        results.append((status, time.perf_counter() - started, len(chunk)))
    conn.close()


ROUNDS = (1, 10)  # alerts per webhook body: one by one, then as Alertmanager groups them


def measure_round(port, per_body):
    """One round on a fresh integration: send, then count from the database."""
    from incidents import ingest
    from incidents.alert_models import Alert, IntegrationKind

    run_id = datetime.now(UTC).strftime("%Y%m%d%H%M%S%f")
    integration, token = ingest.create_integration(name=f"bench-ingest-{run_id}",
                                                   kind=IntegrationKind.ALERTMANAGER)
    path = f"/api/v1/integrations/{token}/alertmanager"
    results = []
    threads = [threading.Thread(target=sender, args=(port, path, run_id, i, per_body, results))
               for i in range(SENDERS)]
    log(f"{SENDERS} senders x {ALERTS_PER_SENDER} alerts (+{REPLAYS} replays each), "
        f"{per_body} per body")
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    alerts = Alert.objects.filter(integration=integration)
    stored = alerts.count()
    ok = [(t, n) for status, t, n in results if status == 200]
    latencies = [t for t, _ in ok]
    return {
        "per_body": per_body, "bodies": len(results), "ok": len(ok),
        "failed": len(results) - len(ok), "wall": wall,
        "rate": sum(n for _, n in ok) / wall if wall else 0.0,
        "p50": percentile(latencies, 50) if ok else None,
        "p95": percentile(latencies, 95) if ok else None,
        "expected": SENDERS * ALERTS_PER_SENDER, "stored": stored,
        "folded": sum(alerts.values_list("count", flat=True)) - stored,
        "replays": SENDERS * REPLAYS,
        "incidents": alerts.exclude(incident=None).values("incident").distinct().count(),
    }


def run(env):
    ensure_database(env["DATABASE_URL"])
    redis_version = check_redis(env["REDIS_URL"])
    log("migrating")
    migrate(env)
    os.environ.update(env)
    import django

    django.setup()
    port = free_port()
    logfile = open(BENCH_DIR / "gunicorn.log", "w")  # noqa: SIM115 (closed below)
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "mindweave_ir.wsgi", "--workers", str(WORKERS),
         "--bind", f"127.0.0.1:{port}", "--access-logfile", "-"],
        cwd=ROOT, env=env, stdout=logfile, stderr=subprocess.STDOUT)
    try:
        if not wait_until(lambda: _up(port), 30):
            raise SetupError(f"gunicorn did not answer /healthz; see {BENCH_DIR / 'gunicorn.log'}")
        rounds = [measure_round(port, per_body) for per_body in ROUNDS]
    finally:
        server.terminate()
        server.wait(timeout=20)
        logfile.close()
    report = render(machine_facts(redis_version), rounds)
    REPORT.write_text(report)
    print(report, flush=True)
    log(f"report written to {REPORT.relative_to(ROOT)}")


def _up(port):
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", "/healthz")
        return conn.getresponse().status == 200
    except OSError:
        return False


def _met(f):
    return (f["rate"] >= RATE_BAR and f["stored"] == f["expected"] and f["failed"] == 0
            and f["folded"] == f["replays"])


def render(facts, rounds):
    def ms(seconds):
        return "—" if seconds is None else f"{seconds * 1000:.1f} ms"

    lines = ["# Alert ingestion benchmark", "", "| fact | value |", "| --- | --- |",
             *(f"| {k} | {v} |" for k, v in facts), "",
             f"{SENDERS} concurrent senders, one integration (Alertmanager webhook) per "
             f"round, gunicorn with {WORKERS} workers, keep-alive connections; "
             f"{ALERTS_PER_SENDER} distinct alerts per sender plus {REPLAYS} replays.", "",
             "| figure | " + " | ".join(f"{f['per_body']} alert(s) per body" for f in rounds)
             + " | bar |",
             "| --- | " + " | ".join("---" for _ in rounds) + " | --- |"]

    def row(label, cell, bar=""):
        lines.append(f"| {label} | " + " | ".join(cell(f) for f in rounds) + f" | {bar} |")

    row("bodies answered 200 / sent", lambda f: f"{f['ok']} / {f['bodies']}", "all")
    row("wall time", lambda f: f"{f['wall']:.2f} s")
    row("rate", lambda f: f"**{f['rate']:.0f} alerts/s**", f"≥ {RATE_BAR:.0f}")
    row("latency per body p50 / p95", lambda f: f"{ms(f['p50'])} / {ms(f['p95'])}")
    row("alerts stored / distinct sent", lambda f: f"{f['stored']} / {f['expected']}",
        "equal (none lost, none doubled)")
    row("replays folded / sent", lambda f: f"{f['folded']} / {f['replays']}", "equal")
    row("incidents opened", lambda f: str(f["incidents"]), "1 (one alert group)")
    row("bar", lambda f: "met" if _met(f) else "**not met**")
    return "\n".join(lines) + "\n"


def main():
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    try:
        run(bench_env())
    except SetupError as exc:
        print(f"[bench] setup failed: {exc}", file=sys.stderr, flush=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
