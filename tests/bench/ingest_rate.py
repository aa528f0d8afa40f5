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


def body(run_id, sender, n):
    labels = {"alertname": "BenchStorm", "severity": "warning", "run": run_id,
              "instance": f"web-{sender}-{n}"}
    return json.dumps({
        "version": "4", "groupKey": f'{{}}:{{alertname="BenchStorm",run="{run_id}"}}',
        "status": "firing", "receiver": "mindweave", "groupLabels": {"alertname": "BenchStorm"},
        "commonLabels": {"alertname": "BenchStorm"}, "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093", "truncatedAlerts": 0,
        "alerts": [{"status": "firing", "labels": labels,
                    "annotations": {"summary": f"storm {sender}-{n}"},
                    "startsAt": "2026-11-27T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
                    "generatorURL": "http://prometheus/graph",
                    "fingerprint": f"{run_id}-{sender:02d}-{n:04d}"}],
    }).encode()


def sender(port, path, run_id, number, results):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    plan = [(number, n) for n in range(ALERTS_PER_SENDER)]
    plan += [(number, n) for n in range(REPLAYS)]  # replays: must fold
    for who, n in plan:
        payload = body(run_id, who, n)
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
        results.append((status, time.perf_counter() - started))
    conn.close()


def run(env):
    ensure_database(env["DATABASE_URL"])
    check_redis(env["REDIS_URL"])
    log("migrating")
    migrate(env)
    import os

    os.environ.update(env)
    import django

    django.setup()
    from incidents import ingest
    from incidents.alert_models import Alert, IntegrationKind

    run_id = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    integration, token = ingest.create_integration(name=f"bench-ingest-{run_id}",
                                                   kind=IntegrationKind.ALERTMANAGER)
    port = free_port()
    logfile = open(BENCH_DIR / "gunicorn.log", "w")  # noqa: SIM115 (closed below)
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "mindweave_ir.wsgi", "--workers", str(WORKERS),
         "--bind", f"127.0.0.1:{port}", "--access-logfile", "-"],
        cwd=ROOT, env=env, stdout=logfile, stderr=subprocess.STDOUT)
    try:
        if not wait_until(lambda: _up(port), 30):
            raise SetupError(f"gunicorn did not answer /healthz; see {BENCH_DIR / 'gunicorn.log'}")
        path = f"/api/v1/integrations/{token}/alertmanager"
        results = []
        threads = [threading.Thread(target=sender, args=(port, path, run_id, i, results))
                   for i in range(SENDERS)]
        log(f"{SENDERS} senders x {ALERTS_PER_SENDER} alerts (+{REPLAYS} replays each)")
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(timeout=20)
        logfile.close()

    alerts = Alert.objects.filter(integration=integration)
    stored = alerts.count()
    folded = sum(alerts.values_list("count", flat=True)) - stored
    incidents = alerts.exclude(incident=None).values("incident").distinct().count()
    ok = [t for status, t in results if status == 200]
    failed = len(results) - len(ok)
    expected = SENDERS * ALERTS_PER_SENDER
    rate = len(ok) / wall if wall else 0.0
    report = render(machine_facts(check_redis(env["REDIS_URL"])), {
        "sent": len(results), "ok": len(ok), "failed": failed, "wall": wall, "rate": rate,
        "p50": percentile(ok, 50) if ok else None, "p95": percentile(ok, 95) if ok else None,
        "expected": expected, "stored": stored, "folded": folded,
        "replays": SENDERS * REPLAYS, "incidents": incidents,
    })
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


def render(facts, f):
    met = (f["rate"] >= RATE_BAR and f["stored"] == f["expected"] and f["failed"] == 0
           and f["folded"] == f["replays"])
    ms = lambda s: "—" if s is None else f"{s * 1000:.1f} ms"  # noqa: E731
    lines = ["# Alert ingestion benchmark", "", "| fact | value |", "| --- | --- |",
             *(f"| {k} | {v} |" for k, v in facts), "",
             f"{SENDERS} concurrent senders, one integration (Alertmanager webhook), "
             f"gunicorn with {WORKERS} workers, keep-alive connections.", "",
             "| figure | value | bar |", "| --- | --- | --- |",
             f"| bodies answered 200 / sent | {f['ok']} / {f['sent']} | all |",
             f"| wall time | {f['wall']:.2f} s | |",
             f"| rate | **{f['rate']:.0f} alerts/s** | ≥ {RATE_BAR:.0f} |",
             f"| latency p50 / p95 | {ms(f['p50'])} / {ms(f['p95'])} | |",
             f"| alerts stored / distinct sent | {f['stored']} / {f['expected']} | equal "
             "(none lost, none doubled) |",
             f"| replays folded / sent | {f['folded']} / {f['replays']} | equal |",
             f"| incidents opened | {f['incidents']} | 1 (one alert group) |", "",
             f"Bar {'met' if met else '**not met**'}.", ""]
    return "\n".join(lines)


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
