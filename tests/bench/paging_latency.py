"""Paging latency with a real Celery worker, Celery beat, PostgreSQL and Redis.

    python -m tests.bench.paging_latency        (or `make bench`)

A report, not a test: it measures, writes var/bench/paging.md and prints it, and
exits 0 whether or not the bars (DESIGN.md "Performance bars") are met. It exits
non-zero only when it cannot measure (no PostgreSQL or Redis, migrate fails, the
worker never answers, nothing reaches the receiver).

1. Setup: create the database if missing, migrate, remove this benchmark's data
   from an earlier run, purge the broker's queue, start a local HTTP receiver, a
   worker (prefork, concurrency 2) and beat; wait for the worker's ping.
2. Two on-call people with webhook contact methods pointing at the receiver
   (level 1: person A, 1-minute timeout; level 2: person B) in the default policy.
3. Phase 1: an Incident Commander declares PAGES SEV-2 incidents, one every
   INTERVAL s, through `declare_incident`; each figure is declare call -> level-1
   webhook arrival (the fast-path task, no beat tick needed).
4. Phase 2: each page's level-1 timeout is made to expire now (`next_step_at` set
   to that instant); each figure is that instant -> level-2 webhook arrival
   (carried by the beat tick and the worker).
5. Percentiles are nearest-rank over the pages that arrived; a bar counts as met
   only if p50 and p95 are under it and no page is missing or doubled.
"""

import contextlib
import json
import math
import os
import platform
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from tests.bench.figures import figure, save

ROOT = Path(__file__).resolve().parents[2]
BENCH_DIR = ROOT / "var" / "bench"
REPORT = BENCH_DIR / "paging.md"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/mindweave_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/1"

PAGES = 50
INTERVAL = 0.2  # seconds between declares, and between simulated timeouts
CONCURRENCY = 2
FIRST_BAR = 2.0  # declare -> first notification delivered
NEXT_BAR = 5.0  # level timeout -> next level delivered
WORKER_READY_TIMEOUT = 30
ARRIVAL_TIMEOUT = 30  # after the last declare / timeout, how long to wait for stragglers
SETTLE = 4.0  # after the last arrival: two beat ticks for any duplicate to show up
STOP_TIMEOUT = 20

POLICY_NAME = "Bench paging"
IC_NAME, PERSON_A, PERSON_B = "bench-ic", "bench-oncall-a", "bench-oncall-b"
PATH_LEVEL = {"/oncall-a": 1, "/oncall-b": 2}


class SetupError(Exception):
    """The benchmark could not measure anything: exit non-zero."""


def log(text):
    print(f"[bench] {text}", flush=True)


def free_port():
    """A TCP port on 127.0.0.1 free right now (for gunicorn or a receiver)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, seconds, interval=0.05):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def sleep_until(monotonic_at):
    delay = monotonic_at - time.monotonic()
    if delay > 0:
        time.sleep(delay)


# --- the HTTP receiver ----------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        arrived = time.time()
        try:
            data = json.loads(body)
        except ValueError:
            data = {}
        self.server.record(arrived, urlsplit(self.path).path, data)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format, *args):
        pass


class Receiver(ThreadingHTTPServer):
    """Records (arrival time, level, dedup_key, subject) for every POST."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.arrivals = []

    def record(self, arrived, path, data):
        with self.lock:
            self.arrivals.append({"at": arrived, "level": PATH_LEVEL.get(path),
                                  "dedup_key": data.get("dedup_key", ""),
                                  "subject": data.get("subject", "")})

    def url(self, path):
        return f"http://127.0.0.1:{self.server_address[1]}{path}"

    def first_arrivals(self, level):
        """dedup_key -> earliest arrival time at `level`."""
        first = {}
        with self.lock:
            for item in self.arrivals:
                if item["level"] == level:
                    key = item["dedup_key"]
                    first[key] = min(first.get(key, item["at"]), item["at"])
        return first

    def counts(self):
        """(dedup_key, level) -> how many arrivals."""
        counts = {}
        with self.lock:
            for item in self.arrivals:
                key = (item["dedup_key"], item["level"])
                counts[key] = counts.get(key, 0) + 1
        return counts


# --- database, broker, processes ------------------------------------------------------


def bench_env():
    env = {**os.environ,
           "DATABASE_URL": os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL,
           "REDIS_URL": os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL,
           "DEBUG": "true", "DJANGO_SETTINGS_MODULE": "mindweave_ir.settings",
           "PYTHONUNBUFFERED": "1",
           # The bench's receivers listen on 127.0.0.1: allowed as an on-premise
           # receiver would be (internal addresses are refused by default).
           "OUTBOUND_ALLOWED_NETWORKS": "127.0.0.1/32"}
    return env


def ensure_database(url):
    """Create the database named in `url` if it is missing (connecting to `postgres`)."""
    import dj_database_url
    import psycopg
    from psycopg import sql

    config = dj_database_url.parse(url)
    if "postgresql" not in config["ENGINE"]:
        raise SetupError(f"DATABASE_URL must be PostgreSQL, not {config['ENGINE']}.")
    name = config["NAME"]
    if "bench" not in name:
        raise SetupError(f"Refusing database {name!r}: the benchmark deletes its own earlier "
                         "data and makes its policy the default, so it only runs on a "
                         "database whose name contains 'bench'.")
    params = {"dbname": "postgres", "user": config["USER"] or None,
              "password": config["PASSWORD"] or None, "host": config["HOST"] or None,
              "port": config["PORT"] or None, "connect_timeout": 5, "autocommit": True}
    try:
        with psycopg.connect(**{k: v for k, v in params.items() if v is not None}) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                  [name]).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                log(f"created database {name}")
    except psycopg.Error as exc:
        raise SetupError(f"PostgreSQL at {config['HOST']}:{config['PORT']}: {exc}") from None


def check_redis(url):
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=5)
        return client.info("server")["redis_version"]
    except redis.RedisError as exc:
        raise SetupError(f"Redis at {url}: {exc}") from None


def migrate(env):
    try:
        done = subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT,
                              env=env, capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        raise SetupError("manage.py migrate took more than 300 s.") from None
    if done.returncode != 0:
        raise SetupError(f"manage.py migrate failed:\n{done.stdout}{done.stderr}")


class Processes:
    """Celery worker and beat subprocesses, each in its own process group."""

    def __init__(self, env):
        self.env = env
        self.running = []  # (name, Popen, log file)

    def start(self, name, *args):
        logfile = open(BENCH_DIR / f"{name}.log", "w")  # noqa: SIM115 (closed in stop())
        proc = subprocess.Popen([sys.executable, "-m", "celery", "-A", "mindweave_ir", *args],
                                cwd=ROOT, env=self.env, stdout=logfile,
                                stderr=subprocess.STDOUT, start_new_session=True)
        self.running.append((name, proc, logfile))
        return proc

    def check_alive(self):
        for name, proc, _ in self.running:
            if proc.poll() is not None:
                raise SetupError(f"celery {name} exited with code {proc.returncode}; "
                                 f"see {BENCH_DIR / (name + '.log')}")

    def stop(self):
        """Terminate (warm shutdown), then kill whatever is left of each process group."""
        for _, proc, _ in self.running:
            if proc.poll() is None:
                proc.terminate()
        for name, proc, logfile in self.running:
            try:
                proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                log(f"celery {name} ignored SIGTERM for {STOP_TIMEOUT} s; killing it")
            # The group outlives its leader if a pool child lingers.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                log(f"celery {name} (pid {proc.pid}) did not exit after SIGKILL")
            logfile.close()
        self.running = []


def wait_for_worker(app, nodename_prefix, processes):
    deadline = time.monotonic() + WORKER_READY_TIMEOUT
    while time.monotonic() < deadline:
        processes.check_alive()
        replies = app.control.ping(timeout=1.0) or []
        if any(name.startswith(nodename_prefix) for reply in replies for name in reply):
            return
        time.sleep(0.5)
    raise SetupError(f"the worker did not answer a ping within {WORKER_READY_TIMEOUT} s; "
                     f"see {BENCH_DIR / 'worker.log'}")


def purge_queue(app):
    with app.connection_for_write() as conn:
        return conn.default_channel.queue_purge(app.conf.task_default_queue) or 0


# --- the on-call set-up (Django ORM) --------------------------------------------------


def reset_bench_data():
    """Delete what an earlier run left (its incidents and pages), nothing else."""
    from incidents.models import Incident
    from oncall.models import Page

    pages = Page.objects.filter(policy__name=POLICY_NAME).delete()[0]
    incidents = Incident.objects.filter(declared_by__username=IC_NAME).delete()[0]
    if pages or incidents:
        log(f"removed an earlier run's data ({pages + incidents} rows)")


def set_up_oncall(receiver):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from oncall.models import ContactKind, ContactMethod, EscalationLevel, EscalationPolicy
    from oncall.roles import Role

    users = get_user_model().objects
    ic = users.get_or_create(username=IC_NAME, defaults={"first_name": "Bench IC"})[0]
    ic.groups.add(Group.objects.get(name=Role.INCIDENT_COMMANDER))
    people = {}
    for username, path in ((PERSON_A, "/oncall-a"), (PERSON_B, "/oncall-b")):
        person = users.get_or_create(username=username)[0]
        person.groups.add(Group.objects.get(name=Role.RESPONDER))
        ContactMethod.objects.filter(user=person).delete()
        ContactMethod.objects.create(user=person, kind=ContactKind.WEBHOOK,
                                     target=receiver.url(path), label="bench receiver")
        people[username] = person
    EscalationPolicy.objects.exclude(name=POLICY_NAME).update(is_default=False)
    policy, _ = EscalationPolicy.objects.update_or_create(
        name=POLICY_NAME, defaults={"is_default": True, "repeat_count": 0,
                                    "major_incident_schedule": None})
    policy.levels.all().delete()
    EscalationLevel.objects.create(policy=policy, position=1, timeout_minutes=1) \
        .users.set([people[PERSON_A]])
    EscalationLevel.objects.create(policy=policy, position=2, timeout_minutes=60) \
        .users.set([people[PERSON_B]])
    return ic


def declare(ic, title):
    """Declare a SEV-2 incident; return (declare time, the page's pk and dedup key)."""
    from incidents import services
    from incidents.models import Severity
    from oncall.models import Page

    started = time.time()
    incident = services.declare_incident(title=title, severity=Severity.SEV2, by=ic)
    page = Page.objects.filter(source=f"incident:{incident.pk}").values("pk", "dedup_key") \
        .first()
    if page is None:
        raise SetupError(f"declaring {incident.ref} paged nobody: is '{POLICY_NAME}' the "
                         "default policy?")
    return started, page["pk"], page["dedup_key"]


def time_out_level_one(page_pk):
    """Make the page's level-1 timeout expire now; return that instant (or None)."""
    from oncall.models import Page, PageStatus

    at = time.time()
    updated = Page.objects.filter(pk=page_pk, status=PageStatus.TRIGGERED, next_level=1) \
        .update(next_step_at=datetime.fromtimestamp(at, UTC))
    return at if updated == 1 else None


# --- the two phases -------------------------------------------------------------------


def warm_up(ic, receiver):
    """One page, not counted: the worker's first task pays for imports and connections."""
    from oncall import paging
    from oncall.models import Page

    _, page_pk, key = declare(ic, "Bench warm-up")
    if not wait_until(lambda: key in receiver.first_arrivals(1), ARRIVAL_TIMEOUT):
        raise SetupError(f"the warm-up page never reached the receiver in {ARRIVAL_TIMEOUT} s; "
                         f"see {BENCH_DIR / 'worker.log'}")
    paging.resolve_page(Page.objects.get(pk=page_pk), reason="Benchmark warm-up.")
    return key


def phase_one(ic, receiver, run_id):
    """Declare PAGES incidents; return [(page pk, dedup key, declared at)]."""
    pages = []
    start = time.monotonic()
    for i in range(PAGES):
        sleep_until(start + i * INTERVAL)
        declared_at, page_pk, key = declare(ic, f"Bench {run_id} page {i + 1}")
        pages.append((page_pk, key, declared_at))
    keys = {key for _, key, _ in pages}
    wait_until(lambda: keys <= receiver.first_arrivals(1).keys(), ARRIVAL_TIMEOUT)
    return pages


def phase_two(pages, receiver):
    """Expire each page's level-1 timeout in turn; return {dedup key: that instant}."""
    timed_out = {}
    start = time.monotonic()
    for i, (page_pk, key, _) in enumerate(pages):
        sleep_until(start + i * INTERVAL)
        at = time_out_level_one(page_pk)
        if at is not None:
            timed_out[key] = at
    keys = set(timed_out)
    wait_until(lambda: keys <= receiver.first_arrivals(2).keys(), ARRIVAL_TIMEOUT)
    return timed_out


# --- figures and the report -----------------------------------------------------------


def percentile(values, p):
    """Nearest-rank percentile of a non-empty list."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def measure(starts, arrivals, expected):
    """starts: key -> t0; arrivals: key -> first arrival. Latencies for keys in `expected`."""
    latencies = [arrivals[key] - starts[key] for key in expected
                 if key in starts and key in arrivals]
    return {
        "expected": len(expected), "delivered": len(latencies),
        "missing": len(expected) - len(latencies),
        "p50": percentile(latencies, 50) if latencies else None,
        "p95": percentile(latencies, 95) if latencies else None,
        "max": max(latencies) if latencies else None,
    }


def machine_facts(redis_version):
    from django.db import connection

    try:
        cpus = subprocess.run(["nproc"], capture_output=True, text=True, timeout=5,
                              check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        cpus = str(os.cpu_count())
    memory = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 ** 2:.1f} GiB (MemTotal)"
    except OSError:
        pass
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres = cursor.fetchone()[0]
    import celery
    import django

    return [
        ("Date", datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")),
        ("Host", socket.gethostname()),
        ("CPUs (`nproc`)", cpus),
        ("Memory", memory),
        ("Kernel", platform.release()),
        ("Python", platform.python_version()),
        ("PostgreSQL", postgres),
        ("Redis", redis_version),
        ("Django / Celery", f"{django.get_version()} / {celery.__version__}"),
    ]


def _seconds(value):
    return "—" if value is None else f"{value:.3f} s"


def _rows(label, figures, bar, duplicates):
    def verdict(value):
        return "missed" if value is None or value >= bar else "met"

    all_there = f"{figures['delivered']} / {figures['expected']}"
    return [
        (label, "p50", _seconds(figures["p50"]), f"< {bar:g} s", verdict(figures["p50"])),
        ("", "p95", _seconds(figures["p95"]), f"< {bar:g} s", verdict(figures["p95"])),
        ("", "max", _seconds(figures["max"]), "", ""),
        ("", "delivered", all_there, "all",
         "met" if figures["missing"] == 0 and figures["expected"] else "missed"),
        ("", "duplicates", str(duplicates), "0", "met" if duplicates == 0 else "missed"),
    ]


def render_report(facts, first, nxt, duplicates, strays, tick):
    results = (_rows("declare → level 1 delivered", first, FIRST_BAR, duplicates[1])
               + _rows("level-1 timeout → level 2 delivered", nxt, NEXT_BAR, duplicates[2]))
    missed = _missed_names(results)
    lines = ["# Paging latency (`make bench`)", "",
             f"{PAGES} SEV-2 pages through `declare_incident`, one every {INTERVAL:g} s, "
             f"with a real Celery worker (prefork, concurrency {CONCURRENCY}), Celery beat "
             f"(`oncall.tasks.tick` every {tick:g} s), PostgreSQL and Redis, all on this "
             "machine; webhooks to a local HTTP receiver. One warm-up page before phase 1 "
             "is not counted.", "",
             "## Machine", "", "| | |", "| --- | --- |"]
    lines += [f"| {name} | {value} |" for name, value in facts]
    lines += ["", "## Results", "", "| measure | figure | value | bar | result |",
              "| --- | --- | --- | --- | --- |"]
    lines += [f"| {' | '.join(row)} |" for row in results]
    lines += [""]
    if missed:
        lines += ["**Bars missed:** " + "; ".join(missed) + "."]
    else:
        lines += ["**Both bars met.**"]
    if strays:
        lines += ["", f"{strays} webhook(s) arrived for pages outside this run (not counted)."]
    lines += ["", "## Method", "",
              "- Times are `time.time()` on this machine: the declare figure starts just "
              "before `declare_incident` is called (the fast-path task runs level 1); the "
              "timeout figure starts at the instant written into the page's `next_step_at` "
              "(the beat tick finds it and runs level 2). Each ends when the receiver has "
              "read the webhook's request.",
              "- Percentiles are nearest-rank over the pages that arrived; a missing page "
              f"(nothing within {ARRIVAL_TIMEOUT} s) or a duplicate (a second webhook for "
              "the same page and level) misses the bar on its own.",
              "- The level-2 figure includes up to one beat interval of waiting by design.",
              ""]
    return "\n".join(lines)


def headline(first, nxt, duplicates):
    """The figures for the combined report (tests/bench/figures.py)."""
    rows = []
    for label, figures, bar, level in (("declare → level 1 delivered", first, FIRST_BAR, 1),
                                       ("level-1 timeout → level 2 delivered", nxt,
                                        NEXT_BAR, 2)):
        for key in ("p50", "p95"):
            value = figures[key]
            rows.append(figure(f"{label}, {key}", _seconds(value), f"< {bar:g} s",
                               value is not None and value < bar))
        complete = figures["missing"] == 0 and duplicates[level] == 0 and figures["expected"]
        rows.append(figure(f"{label}: delivered, duplicates",
                           f"{figures['delivered']} / {figures['expected']}, "
                           f"{duplicates[level]}", "all, 0", bool(complete)))
    return rows


def _missed_names(results):
    names, current = [], ""
    for measure_name, which, _, _, result in results:
        current = measure_name or current
        if result == "missed":
            names.append(f"{current} {which}")
    return names


# --- main -----------------------------------------------------------------------------


def run(env):
    ensure_database(env["DATABASE_URL"])
    redis_version = check_redis(env["REDIS_URL"])
    log("migrating")
    migrate(env)

    os.environ.update(env)
    import django

    django.setup()
    from django.conf import settings

    from mindweave_ir.celery import app

    reset_bench_data()
    purged = purge_queue(app)
    if purged:
        log(f"purged {purged} stale task(s) from the broker")
    for stale in BENCH_DIR.glob("celerybeat-schedule*"):
        stale.unlink()

    receiver = Receiver()
    threading.Thread(target=receiver.serve_forever, args=(0.05,), daemon=True).start()
    processes = Processes(env)
    run_id = datetime.now(UTC).strftime("%H%M%S")
    try:
        ic = set_up_oncall(receiver)
        nodename = f"bench{os.getpid()}@"
        processes.start("worker", "worker", "--pool=prefork", f"--concurrency={CONCURRENCY}",
                        "--without-mingle", "--without-gossip", "--loglevel=INFO",
                        "-n", f"{nodename}%h")
        processes.start("beat", "beat", "--loglevel=INFO",
                        f"--schedule={BENCH_DIR / 'celerybeat-schedule'}")
        log("waiting for the worker")
        wait_for_worker(app, nodename, processes)
        warm_up_key = warm_up(ic, receiver)
        processes.check_alive()

        log(f"phase 1: declaring {PAGES} SEV-2 incidents")
        pages = phase_one(ic, receiver, run_id)
        processes.check_alive()
        log(f"phase 2: expiring {PAGES} level-1 timeouts")
        timed_out = phase_two(pages, receiver)
        last = max(receiver.first_arrivals(2).values(), default=time.time())
        time.sleep(max(0.0, SETTLE - (time.time() - last)))
    finally:
        log("stopping worker and beat")
        processes.stop()
        receiver.shutdown()
        receiver.server_close()

    keys = [key for _, key, _ in pages]
    first = measure({key: at for _, key, at in pages}, receiver.first_arrivals(1), keys)
    nxt = measure(timed_out, receiver.first_arrivals(2), keys)
    counts = receiver.counts()
    duplicates = {level: sum(counts.get((key, level), 0) - 1 for key in keys
                             if counts.get((key, level), 0) > 1) for level in (1, 2)}
    known = {*keys, warm_up_key}
    strays = sum(n for (key, _), n in counts.items() if key not in known)
    tick = settings.CELERY_BEAT_SCHEDULE["oncall-tick"]["schedule"]
    report = render_report(machine_facts(redis_version), first, nxt, duplicates, strays, tick)
    REPORT.write_text(report)
    save("paging", headline(first, nxt, duplicates))
    print(report, flush=True)
    log(f"report written to {REPORT.relative_to(ROOT)}")


def main():
    def on_sigterm(signum, frame):
        raise SystemExit(128 + signum)  # run the finally blocks: stop worker and beat

    signal.signal(signal.SIGTERM, on_sigterm)
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    try:
        run(bench_env())
    except SetupError as exc:
        print(f"[bench] setup failed: {exc}", file=sys.stderr, flush=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
