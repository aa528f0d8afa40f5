"""Alert ingestion rate: one integration, 8 concurrent senders, gunicorn, a real Celery
worker and beat, PostgreSQL and Redis.

    python -m tests.bench.ingest_rate        (or `make bench`)

A report, not a test: it measures, writes var/bench/ingest.md and prints it, and exits
0 whether or not the bars (DESIGN.md: one alert per body ≥ 40% of /healthz's
requests/s in the same run; ten per body ≥ 200 alerts/s; none lost, none doubled) are
met; non-zero only when it cannot measure. `measure()` returns the headline figures
({"what", "figure", "bar", "met"}) for a combined report.

1. Setup as the paging benchmark, on its own database and Redis database by default
   (DATABASE_URL / REDIS_URL override; the database name must contain `bench`):
   migrate, VACUUM ANALYZE the tables the rounds write (vacuum: the database is kept
   from run to run), purge this Redis database's queue, start gunicorn (WORKERS
   processes), a worker (drains what requests queued) and beat (drains what a lost
   task left).
2. A warm-up nothing is measured in (warm_up): /healthz and both inbound paths on
   every worker, and a drain.
   /healthz at SENDERS concurrent clients: the machine's HTTP ceiling in this run,
   measured before the first round and again after each, so every round is compared
   with the mean of the two around it (the machine may be shared).
3. Per round, on a fresh integration: SENDERS threads POST bodies (built before the
   clock starts, as a load generator's are) on kept-alive connections, then replay
   REPLAYS of their own alerts (which must fold, not double), then resolve their
   first alert (which must end resolved: order kept). Rounds:
   Alertmanager one alert per body (distinct fingerprints, one alert group), the
   Events API one event per body (each sender re-triggering its own dedup_key: the
   request path with the cheapest apply), Alertmanager ten alerts per body.
4. Rate = messages sent / (first send -> every body of the integration settled,
   polled in the database): a request answered "queued" counts only once a drain
   applied it. Latency per request is nearest-rank p50/p95. From the database: alerts
   stored (must equal the distinct keys), messages folded, incidents opened, the
   resolved alerts, bodies left unsettled or failed (none).
5. A profile of the request path (tests/bench/ingest_profile.py): cProfile over
   requests made in this process, its top entries by cumulative time.
"""

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from typing import NamedTuple

from tests.bench.figures import figure, save
from tests.bench.ingest_profile import profile_paths
from tests.bench.ingest_profile import render as render_profile
from tests.bench.paging_latency import (
    BENCH_DIR,
    ROOT,
    Processes,
    SetupError,
    bench_env,
    celery,
    check_redis,
    ensure_database,
    free_port,
    healthz_up,
    log,
    machine_facts,
    migrate,
    percentile,
    purge_queue,
    wait_for_worker,
    wait_until,
)

REPORT = BENCH_DIR / "ingest.md"
# Its own database and Redis database, so it can run beside the other benchmarks
# (their worker must not take this one's tasks, nor this one theirs).
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/mindweave_bench_ingest"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/4"
SENDERS = 8
ALERTS_PER_SENDER = 250
REPLAYS = 25
WORKERS = 4
WORKER_CONCURRENCY = 2
HEALTHZ_PER_CLIENT = 250
WARM_UP_BODIES = 25  # per sender and inbound path, before anything is measured
SETTLE_TIMEOUT = 60  # after the last answer, how long bodies may take to be applied
RATE_BAR = 200.0  # alerts/s, ten per body
RATIO_BAR = 0.40  # one alert per body: this share of /healthz's requests/s
# (kind, alerts per body): one by one, then as Alertmanager groups them.
ROUNDS = (("alertmanager", 1), ("events", 1), ("alertmanager", 10))
KIND_NAMES = {"alertmanager": "Alertmanager", "events": "Events API v2"}


def _alert(run_id, sender, n, status="firing"):
    labels = {"alertname": "BenchStorm", "severity": "warning", "run": run_id,
              "instance": f"web-{sender}-{n}"}
    return {"status": status, "labels": labels,
            "annotations": {"summary": f"storm {sender}-{n}"},
            "startsAt": "2026-11-27T10:00:00Z",
            "endsAt": "2026-11-27T10:05:00Z" if status == "resolved"
            else "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus/graph", "fingerprint": _key(run_id, sender, n)}


def _key(run_id, sender, n):
    return f"{run_id}-{sender:02d}-{n:04d}"


def body(run_id, sender, numbers, status="firing"):
    """One webhook body carrying the alerts `numbers` of this sender (one alert group)."""
    return json.dumps({
        "version": "4", "groupKey": f'{{}}:{{alertname="BenchStorm",run="{run_id}"}}',
        "status": status, "receiver": "mindweave", "groupLabels": {"alertname": "BenchStorm"},
        "commonLabels": {"alertname": "BenchStorm"}, "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093", "truncatedAlerts": 0,
        "alerts": [_alert(run_id, sender, n, status) for n in numbers],
    }).encode()


def event(token, run_id, sender, n, action="trigger"):
    """An Events API v2 body: each sender re-triggers its own dedup_key (n only changes
    the summary)."""
    return json.dumps({
        "routing_key": token, "event_action": action, "dedup_key": _key(run_id, sender, 0),
        "payload": {"summary": f"storm {sender}-{n}", "source": f"web-{sender}",
                    "severity": "warning"}}).encode()


def _request(conn, port, method, path, payload=None):
    """(status, response body, seconds, connection to use next)."""
    started = time.perf_counter()
    try:
        conn.request(method, path, payload, {"Content-Type": "application/json"})
        response = conn.getresponse()
        data = response.read()
        status = response.status
    except (OSError, http.client.HTTPException) as exc:
        status, data = f"error: {exc}", b""
        conn.close()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    return status, data, time.perf_counter() - started, conn


class Target(NamedTuple):
    kind: str  # "alertmanager" or "events"
    path: str
    token: str
    run_id: str


def _bodies(target, sender_number, per_body):
    """(body, messages in it) this sender sends, in order: its alerts, REPLAYS replays,
    then a resolve of its first alert."""
    numbers = list(range(ALERTS_PER_SENDER)) + list(range(REPLAYS))  # replays: must fold
    if target.kind == "events":
        for n in numbers:
            yield event(target.token, target.run_id, sender_number, n), 1
        yield event(target.token, target.run_id, sender_number, 0, "resolve"), 1
        return
    for first in range(0, len(numbers), per_body):
        chunk = numbers[first:first + per_body]
        yield body(target.run_id, sender_number, chunk), len(chunk)
    yield body(target.run_id, sender_number, [0], status="resolved"), 1


QUEUED_ANSWER = {"alertmanager": (200, "Payload queued"), "events": (202, "Event accepted")}
DONE_ANSWER = {"alertmanager": (200, "Payload processed"), "events": (202, "Event processed")}


def sender(port, target, bodies, results):
    """POST `bodies` ([(body, messages in it)], built before the clock starts, as a load
    generator's requests are) in order on one kept-alive connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for payload, messages in bodies:
        status, data, seconds, conn = _request(conn, port, "POST", target.path, payload)
        try:
            answer = (status, json.loads(data).get("message"))
        except ValueError:
            answer = (status, None)
        ok = answer in (QUEUED_ANSWER[target.kind], DONE_ANSWER[target.kind])
        results.append((ok, seconds, messages, answer == QUEUED_ANSWER[target.kind]))
    conn.close()


def healthz_round(port, per_client=HEALTHZ_PER_CLIENT):
    """SENDERS clients GET /healthz `per_client` times each: requests/s, p50/p95."""
    latencies, failures = [], []

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for _ in range(per_client):
            status, _, seconds, conn = _request(conn, port, "GET", "/healthz")
            (latencies if status == 200 else failures).append(seconds)
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(SENDERS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    return {"requests": len(latencies), "failed": len(failures), "wall": wall,
            "rate": len(latencies) / wall if wall else 0.0,
            "p50": percentile(latencies, 50) if latencies else None,
            "p95": percentile(latencies, 95) if latencies else None}


def _unsettled(integration):
    from incidents.models import InboundPayload, PayloadOutcome

    return InboundPayload.objects.filter(integration=integration,
                                         outcome=PayloadOutcome.RECEIVED).count()


def _target(kind, name):
    """A fresh integration of `kind` and where its senders POST."""
    from incidents import ingest

    run_id = datetime.now(UTC).strftime("%Y%m%d%H%M%S%f")
    integration, token = ingest.create_integration(name=f"{name}-{run_id}", kind=kind)
    path = f"/api/v1/integrations/{token}/alertmanager" if kind == "alertmanager" \
        else "/api/v1/events/v2/enqueue"
    return integration, Target(kind, path, token, run_id)


def warm_up(port):
    """Before anything is measured: every gunicorn worker serves /healthz and both
    inbound paths, and a drain runs, so no round pays a worker's first requests (its
    lazy imports, its first connections)."""
    healthz_round(port, per_client=50)
    for kind, per_body in ROUNDS[:2]:
        integration, target = _target(kind, "bench-warm-up")
        results = []
        threads = [threading.Thread(target=sender, args=(
            port, target, list(_bodies(target, i, per_body))[:WARM_UP_BODIES], results))
            for i in range(SENDERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wait_until(lambda integration=integration: _unsettled(integration) == 0,
                   SETTLE_TIMEOUT, interval=0.02)


def measure_round(port, kind, per_body):
    """One round on a fresh integration: send, wait until every body is settled, then
    count from the database."""
    from incidents.models import Alert, AlertStatus, InboundPayload, PayloadOutcome

    integration, target = _target(kind, "bench-ingest")
    run_id = target.run_id
    results = []
    threads = [threading.Thread(target=sender, args=(
        port, target, list(_bodies(target, i, per_body)), results)) for i in range(SENDERS)]
    log(f"{KIND_NAMES[kind]}: {SENDERS} senders x {ALERTS_PER_SENDER} alerts (+{REPLAYS} "
        f"replays and a resolve each), {per_body} per body")
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    answered = time.perf_counter() - started
    settled = wait_until(lambda: _unsettled(integration) == 0, SETTLE_TIMEOUT, interval=0.02)
    wall = time.perf_counter() - started
    alerts = Alert.objects.filter(integration=integration)
    stored = alerts.count()
    payloads = InboundPayload.objects.filter(integration=integration)
    ok = [(t, n, q) for good, t, n, q in results if good]
    latencies = [t for t, _, _ in ok]
    firsts = [_key(run_id, i, 0) for i in range(SENDERS)]
    events = kind == "events"
    return {
        "kind": kind, "per_body": per_body, "bodies": len(results), "ok": len(ok),
        "failed": len(results) - len(ok), "queued": sum(1 for _, _, q in ok if q),
        "answered": answered, "wall": wall, "settled": settled,
        "sent_alerts": sum(n for _, n, _ in ok),
        "rate": sum(n for _, n, _ in ok) / wall if wall else 0.0,
        "p50": percentile(latencies, 50) if ok else None,
        "p95": percentile(latencies, 95) if ok else None,
        "expected": SENDERS if events else SENDERS * ALERTS_PER_SENDER, "stored": stored,
        "folded": sum(alerts.values_list("count", flat=True)) - stored,
        "replays": SENDERS * (ALERTS_PER_SENDER + REPLAYS - 1) if events
        else SENDERS * REPLAYS,
        "incidents": alerts.exclude(incident=None).values("incident").distinct().count(),
        "expected_incidents": SENDERS if events else 1,
        "resolved": alerts.filter(key__in=firsts, status=AlertStatus.RESOLVED).count(),
        "resolved_others": alerts.exclude(key__in=firsts)
        .filter(status=AlertStatus.RESOLVED).count(),
        "stored_bodies": payloads.count(),
        "unsettled": payloads.filter(outcome=PayloadOutcome.RECEIVED).count(),
        "bad_bodies": payloads.exclude(outcome__in=[PayloadOutcome.RECEIVED,
                                                    PayloadOutcome.PROCESSED]).count(),
    }


def _env():
    env = bench_env()
    env["DATABASE_URL"] = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    env["REDIS_URL"] = os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
    # Persistent connections, as .env.example sets for production: the default (0)
    # opens a PostgreSQL connection per request, which alone costs more than ingesting.
    env.setdefault("DATABASE_CONN_MAX_AGE", "60")
    return env


def vacuum():
    """VACUUM ANALYZE the tables the rounds write: each run settles thousands of bodies
    (an UPDATE each) on a database the benchmark keeps, and a PostgreSQL without
    autovacuum (a CI machine's setting; production keeps it on) would otherwise make
    every run slower than the last."""
    from django.db import connection

    from incidents.models import Alert, InboundPayload

    tables = ", ".join(connection.ops.quote_name(model._meta.db_table)
                       for model in (InboundPayload, Alert))
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {tables}")


def measure(env=None, details=None):
    """Run the benchmark; return [{"what", "figure", "bar", "met"}]. `details`, a dict
    if given, receives what render() needs for the full report. Raises SetupError when
    it cannot measure."""
    env = env or _env()
    ensure_database(env["DATABASE_URL"])
    redis_version = check_redis(env["REDIS_URL"])
    log("migrating")
    migrate(env)
    os.environ.update(env)
    import django

    django.setup()
    from mindweave_ir.celery import app

    log("vacuuming")
    vacuum()
    purged = purge_queue(app)
    if purged:
        log(f"purged {purged} stale task(s) from the broker")
    for stale in BENCH_DIR.glob("ingest-celerybeat-schedule*"):
        stale.unlink()
    port = free_port()
    logfile = open(BENCH_DIR / "ingest-gunicorn.log", "w")  # noqa: SIM115 (closed below)
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "mindweave_ir.wsgi", "--workers", str(WORKERS),
         "--bind", f"127.0.0.1:{port}", "--access-logfile", "-"],
        cwd=ROOT, env=env, stdout=logfile, stderr=subprocess.STDOUT)
    processes = Processes(env)
    try:
        nodename = f"benchingest{os.getpid()}@"
        processes.start("ingest-worker", celery(
            "worker", "--pool=prefork", f"--concurrency={WORKER_CONCURRENCY}",
            "--without-mingle", "--without-gossip", "--loglevel=INFO", "-n", f"{nodename}%h"))
        processes.start("ingest-beat", celery(
            "beat", "--loglevel=INFO", f"--schedule={BENCH_DIR / 'ingest-celerybeat-schedule'}"))
        if not wait_until(lambda: healthz_up(port), 30):
            raise SetupError("gunicorn did not answer /healthz; see "
                             f"{BENCH_DIR / 'ingest-gunicorn.log'}")
        log("waiting for the worker")
        wait_for_worker(app, nodename, processes)
        log("warming up")
        warm_up(port)
        log(f"/healthz at {SENDERS} clients")
        healthz = [healthz_round(port)]
        rounds = []
        for kind, per_body in ROUNDS:
            rounds.append(measure_round(port, kind, per_body))
            processes.check_alive()
            log(f"/healthz at {SENDERS} clients")
            healthz.append(healthz_round(port))
            around = healthz[-2:]
            rounds[-1]["healthz"] = sum(h["rate"] for h in around) / len(around)
    finally:
        server.terminate()
        server.wait(timeout=20)
        logfile.close()
        processes.stop()
    log("profiling the request path")
    profile = profile_paths()
    if details is not None:
        details.update(facts=machine_facts(redis_version), healthz=healthz, rounds=rounds,
                       profile=profile, load=os.getloadavg())
    return headline(healthz, rounds)


def _correct(f):
    return (f["settled"] and f["stored"] == f["expected"] and f["failed"] == 0
            and f["folded"] == f["replays"] and f["incidents"] == f["expected_incidents"]
            and f["resolved"] == SENDERS and f["resolved_others"] == 0
            and f["unsettled"] == 0 and f["bad_bodies"] == 0)


def _ratio(f):
    return f["rate"] / f["healthz"] if f.get("healthz") else 0.0


def _met(f):
    if f["per_body"] == 1:
        return _ratio(f) >= RATIO_BAR and _correct(f)
    return f["rate"] >= RATE_BAR and _correct(f)


def _bar(f):
    if f["per_body"] == 1:
        return f"≥ {RATIO_BAR:.0%} of /healthz's requests/s, none lost, none doubled, " \
               "order kept"
    return f"≥ {RATE_BAR:.0f} alerts/s, none lost, none doubled"


def _ms(seconds):
    return "—" if seconds is None else f"{seconds * 1000:.1f} ms"


def _name(f):
    return f"{KIND_NAMES[f['kind']]}, {f['per_body']} alert(s) per body"


def headline(healthz, rounds):
    """The headline figures for the combined report (tests/bench/figures.py)."""
    rates = ", ".join(f"{h['rate']:.0f}" for h in healthz)
    listed = [figure(f"/healthz throughput at {SENDERS} clients",
                     f"{rates} requests/s (before the rounds and after each)",
                     note="this machine's HTTP ceiling for a view that does nothing")]
    for f in rounds:
        share = f" = {_ratio(f):.0%} of /healthz's {f['healthz']:.0f} requests/s" \
            if f["per_body"] == 1 else ""
        listed.append(figure(
            f"{_name(f)}, {SENDERS} senders",
            f"{f['rate']:.0f} alerts/s{share}; {f['stored']}/{f['expected']} stored, "
            f"{f['folded']}/{f['replays']} repeats folded, {f['incidents']} incident(s), "
            f"{f['resolved']}/{SENDERS} resolves kept in order; request p50/p95 "
            f"{_ms(f['p50'])}/{_ms(f['p95'])}", _bar(f), _met(f)))
    return listed


def render(facts, healthz, rounds, profile=(), load=None):
    load_text = " / ".join(f"{x:.2f}" for x in load) if load else "unknown"
    lines = ["# Alert ingestion benchmark", "", "| fact | value |", "| --- | --- |",
             *(f"| {k} | {v} |" for k, v in facts),
             f"| Load average (1 / 5 / 15 min, at the end) | {load_text} |", "",
             f"{SENDERS} concurrent senders, one integration per round, gunicorn with "
             f"{WORKERS} workers (DATABASE_CONN_MAX_AGE="
             f"{os.environ.get('DATABASE_CONN_MAX_AGE', '0')}), keep-alive connections, a Celery "
             f"worker (concurrency {WORKER_CONCURRENCY}) and beat on Redis. Each sender: "
             f"{ALERTS_PER_SENDER} alerts, {REPLAYS} replays, then a resolve of its first "
             "alert (Events API: each sender re-triggers its own dedup_key "
             f"{ALERTS_PER_SENDER + REPLAYS} times, then resolves it). Rate = messages "
             "sent / (first send -> every body settled in the database); one alert per "
             "body is compared with the mean of the /healthz runs just before and after it.",
             "", f"/healthz at {SENDERS} clients in the same run (the HTTP ceiling), before "
             "the rounds and after each: " + ", ".join(
                 f"**{h['rate']:.0f} requests/s** (p50 / p95 {_ms(h['p50'])} / "
                 f"{_ms(h['p95'])}, {h['failed']} failed)" for h in healthz) + ".", "",
             "| figure | " + " | ".join(_name(f) for f in rounds) + " |",
             "| --- | " + " | ".join("---" for _ in rounds) + " |"]

    def row(label, cell):
        lines.append(f"| {label} | " + " | ".join(cell(f) for f in rounds) + " |")

    row("bodies answered as the contract says / sent", lambda f: f"{f['ok']} / {f['bodies']}")
    row("answered “queued” (applied later by a drain)", lambda f: str(f["queued"]))
    row("all answered after", lambda f: f"{f['answered']:.2f} s")
    row("all settled after", lambda f: f"{f['wall']:.2f} s" if f["settled"]
        else f"**not within {SETTLE_TIMEOUT} s**")
    row("rate", lambda f: f"**{f['rate']:.0f} alerts/s**")
    row("/healthz around it (mean)", lambda f: f"{f['healthz']:.0f} requests/s")
    row("rate / /healthz", lambda f: f"**{_ratio(f):.0%}**")
    row("latency per request p50 / p95", lambda f: f"{_ms(f['p50'])} / {_ms(f['p95'])}")
    row("alerts stored / distinct sent", lambda f: f"{f['stored']} / {f['expected']}")
    row("repeats folded / sent", lambda f: f"{f['folded']} / {f['replays']}")
    row("incidents opened / expected",
        lambda f: f"{f['incidents']} / {f['expected_incidents']}")
    row("first alerts resolved (order kept) / others resolved",
        lambda f: f"{f['resolved']} / {SENDERS}, {f['resolved_others']}")
    row("bodies left unsettled / failed or rejected",
        lambda f: f"{f['unsettled']} / {f['bad_bodies']}")
    row("bar", _bar)
    row("met", lambda f: "met" if _met(f) else "**not met**")
    lines.append("")
    if profile:
        lines += ["## Where a request's time goes", "",
                  "cProfile over requests made in the benchmark's process through Django's "
                  "test client (middleware, view, PostgreSQL, Redis; tests/bench/"
                  "ingest_profile.py), after the rounds. Times are under the profiler "
                  "(inflated, and wall time: waits for the database's commit included); "
                  "the entries are from the view (or the drain) down.", "",
                  render_profile(profile)]
    return "\n".join(lines)


def main():
    def on_sigterm(signum, frame):
        raise SystemExit(128 + signum)  # run the finally blocks: stop the processes

    signal.signal(signal.SIGTERM, on_sigterm)
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    details = {}
    try:
        save("ingest", measure(details=details))
    except SetupError as exc:
        print(f"[bench] setup failed: {exc}", file=sys.stderr, flush=True)
        return 2
    report = render(details["facts"], details["healthz"], details["rounds"],
                    details["profile"], details["load"])
    REPORT.write_text(report)
    print(report, flush=True)
    log(f"report written to {REPORT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
