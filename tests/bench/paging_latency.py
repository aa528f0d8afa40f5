"""Paging latency with the paging engine, a real Celery worker and beat, PostgreSQL and
a Redis of the benchmark's own.

    python -m tests.bench.paging_latency        (or `make bench`)

A report, not a test: it measures, writes var/bench/paging.md and prints it, and
exits 0 whether or not the bars (DESIGN.md "Performance bars") are met. It exits
non-zero only when it cannot measure (no PostgreSQL, no redis-server, migrate fails,
the worker never answers, nothing reaches the receiver).

1. Setup: create the database if missing, migrate, remove this benchmark's data
   from an earlier run; start its own Redis on port 6390 (tests/bench/own_redis.py:
   the machine's Redis is shared and never stopped) and purge its queue; start a
   local HTTP receiver, a second one answering every request SLOW s late, a worker
   (prefork, concurrency 2), beat and one paging engine (`run_paging_engine`);
   wait for the worker's ping and the engine's heartbeat.
2. On-call people with webhook contact methods (level 1: person A, 1-minute
   timeout; level 2: person B) in the default policy; person S's webhook is the
   slow receiver.
3. Phase 1: an Incident Commander declares PAGES SEV-2 incidents, one every
   INTERVAL s, through `declare_incident`; each figure is declare call -> level-1
   webhook arrival (the engine, woken by the commit).
4. Phase 2: each page's level-1 timeout is made to expire now (`next_step_at` set
   to that instant); each figure is that instant -> level-2 webhook arrival.
5. Phase 3 (slow receiver): S joins level 1, PAGES more incidents are declared the
   same way; each figure is declare -> A's webhook (S's answers take SLOW s each).
6. Phase 4 (broker outage): OUTAGE_PAGES more pages at level 1 get their timeouts
   set 2 s apart from 2 s after Redis is stopped; Redis stays down OUTAGE s, then
   starts again; each figure is how late level 2 arrived after its due instant.
7. Percentiles are nearest-rank over the pages that arrived; a bar counts as met
   only if p50 and p95 (the outage: every step) are under it and no page is
   missing or doubled.
"""

import contextlib
import http.client
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
from tests.bench.own_redis import OwnRedis, RedisError

ROOT = Path(__file__).resolve().parents[2]
BENCH_DIR = ROOT / "var" / "bench"
REPORT = BENCH_DIR / "paging.md"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/mindweave_bench"

PAGES = 50
INTERVAL = 0.2  # seconds between declares, and between simulated timeouts
CONCURRENCY = 2
FIRST_BAR = 2.0  # declare -> first notification delivered
NEXT_BAR = 5.0  # level timeout -> next level delivered
WORKER_READY_TIMEOUT = 30
ARRIVAL_TIMEOUT = 30  # after the last declare / timeout, how long to wait for stragglers
SETTLE = 3.0  # after the last arrival: several engine loops for any duplicate to show up
STOP_TIMEOUT = 20
SLOW = 2.0  # seconds the slow receiver takes to answer
OUTAGE = 60.0  # seconds Redis is down in phase 4
OUTAGE_PAGES = 34  # due 2 s apart from 2 s into the outage: 29 during it, the rest after
LATE_BAR = 2.0  # escalation on time: at most this late, through the outage

POLICY_NAME = "Bench paging"
IC_NAME, PERSON_A, PERSON_B = "bench-ic", "bench-oncall-a", "bench-oncall-b"
PERSON_SLOW = "bench-oncall-slow"
PATH_LEVEL = {"/oncall-a": 1, "/oncall-b": 2, "/oncall-slow": 1}


class SetupError(Exception):
    """The benchmark could not measure anything: exit non-zero."""


def log(text):
    print(f"[bench] {text}", flush=True)


def free_port():
    """A TCP port on 127.0.0.1 free right now (for gunicorn or a receiver)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def healthz_up(port):
    """True once the server on 127.0.0.1:`port` answers /healthz with 200."""
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", "/healthz")
        return conn.getresponse().status == 200
    except OSError:
        return False


def run_part(run):
    """A part's command-line entry: `run()`, exit 2 (with the reason) if it cannot set up."""
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    try:
        run()
    except SetupError as exc:
        print(f"[bench] setup failed: {exc}", file=sys.stderr, flush=True)
        return 2
    return 0


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
        if self.server.delay:
            time.sleep(self.server.delay)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format, *args):
        pass


class Receiver(ThreadingHTTPServer):
    """Records (arrival time, level, dedup_key, subject) for every POST."""

    daemon_threads = True

    def __init__(self, delay=0.0):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.delay = delay
        self.lock = threading.Lock()
        self.arrivals = []

    def record(self, arrived, path, data):
        with self.lock:
            self.arrivals.append({"at": arrived, "level": PATH_LEVEL.get(path), "path": path,
                                  "dedup_key": data.get("dedup_key", ""),
                                  "subject": data.get("subject", "")})

    def url(self, path):
        return f"http://127.0.0.1:{self.server_address[1]}{path}"

    def first_arrivals(self, level, path=None):
        """dedup_key -> earliest arrival time at `level` (on `path` only, if given)."""
        first = {}
        with self.lock:
            for item in self.arrivals:
                if item["level"] == level and path in (None, item["path"]):
                    key = item["dedup_key"]
                    first[key] = min(first.get(key, item["at"]), item["at"])
        return first

    def counts(self):
        """(dedup_key, path) -> how many arrivals."""
        counts = {}
        with self.lock:
            for item in self.arrivals:
                key = (item["dedup_key"], item["path"])
                counts[key] = counts.get(key, 0) + 1
        return counts


# --- database, broker, processes ------------------------------------------------------


def bench_env():
    env = {**os.environ,
           "DATABASE_URL": os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL,
           # Celery's broker: the benchmark's own Redis, which phase 4 stops.
           "REDIS_URL": OwnRedis(BENCH_DIR).url,
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


def celery(*args):
    return [sys.executable, "-m", "celery", "-A", "mindweave_ir", *args]


class Processes:
    """Celery worker and beat and the paging engine, each in its own process group."""

    def __init__(self, env):
        self.env = env
        self.running = []  # (name, Popen, log file)

    def start(self, name, argv):
        logfile = open(BENCH_DIR / f"{name}.log", "w")  # noqa: SIM115 (closed in stop())
        proc = subprocess.Popen(argv, cwd=ROOT, env=self.env, stdout=logfile,
                                stderr=subprocess.STDOUT, start_new_session=True)
        self.running.append((name, proc, logfile))
        return proc

    def check_alive(self):
        for name, proc, _ in self.running:
            if proc.poll() is not None:
                raise SetupError(f"{name} exited with code {proc.returncode}; "
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
                log(f"{name} ignored SIGTERM for {STOP_TIMEOUT} s; killing it")
            # The group outlives its leader if a pool child lingers.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                log(f"{name} (pid {proc.pid}) did not exit after SIGKILL")
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


def set_up_oncall(receiver, slow_receiver):
    """The policy and people; (the IC, level 1, person S on the slow receiver)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from oncall.models import ContactKind, ContactMethod, EscalationLevel, EscalationPolicy
    from oncall.roles import Role

    users = get_user_model().objects
    ic = users.get_or_create(username=IC_NAME, defaults={"first_name": "Bench IC"})[0]
    ic.groups.add(Group.objects.get(name=Role.INCIDENT_COMMANDER))
    people = {}
    for username, path, server in ((PERSON_A, "/oncall-a", receiver),
                                   (PERSON_B, "/oncall-b", receiver),
                                   (PERSON_SLOW, "/oncall-slow", slow_receiver)):
        person = users.get_or_create(username=username)[0]
        person.groups.add(Group.objects.get(name=Role.RESPONDER))
        ContactMethod.objects.filter(user=person).delete()
        ContactMethod.objects.create(user=person, kind=ContactKind.WEBHOOK,
                                     target=server.url(path), label="bench receiver")
        people[username] = person
    EscalationPolicy.objects.exclude(name=POLICY_NAME).update(is_default=False)
    policy, _ = EscalationPolicy.objects.update_or_create(
        name=POLICY_NAME, defaults={"is_default": True, "repeat_count": 0,
                                    "major_incident_schedule": None})
    policy.levels.all().delete()
    level_one = EscalationLevel.objects.create(policy=policy, position=1, timeout_minutes=1)
    level_one.users.set([people[PERSON_A]])
    EscalationLevel.objects.create(policy=policy, position=2, timeout_minutes=60) \
        .users.set([people[PERSON_B]])
    return ic, level_one, people[PERSON_SLOW]


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


def phase_slow(ic, receiver, run_id, level_one, slow_person):
    """S (answering SLOW s late) joins level 1; declare PAGES incidents; [(pk, key, at)]."""
    from oncall import paging
    from oncall.models import Page

    level_one.users.add(slow_person)
    pages = []
    start = time.monotonic()
    try:
        for i in range(PAGES):
            sleep_until(start + i * INTERVAL)
            declared_at, page_pk, key = declare(ic, f"Bench {run_id} slow {i + 1}")
            pages.append((page_pk, key, declared_at))
        keys = {key for _, key, _ in pages}
        wait_until(lambda: keys <= receiver.first_arrivals(1, "/oncall-a").keys(),
                   ARRIVAL_TIMEOUT)
    finally:
        level_one.users.remove(slow_person)
    for page in Page.objects.filter(pk__in=[pk for pk, _, _ in pages]):
        paging.resolve_page(page, reason="Benchmark: slow-receiver phase measured.")
    return pages


def phase_outage(ic, receiver, run_id, redis):
    """Steps due through a broker outage; ({key: due instant}, outage start, end)."""
    from oncall.models import Page

    pages = [declare(ic, f"Bench {run_id} outage {i + 1}") for i in range(OUTAGE_PAGES)]
    keys = {key for _, _, key in pages}
    if not wait_until(lambda: keys <= receiver.first_arrivals(1).keys(), ARRIVAL_TIMEOUT):
        raise SetupError("the outage phase's pages never reached level 1")
    stop_at = time.time() + 1.0
    due = {}
    for i, (_, page_pk, key) in enumerate(pages):
        due[key] = stop_at + 2.0 * (i + 1)
        Page.objects.filter(pk=page_pk).update(
            next_step_at=datetime.fromtimestamp(due[key], UTC))
    time.sleep(max(0.0, stop_at - time.time()))
    redis.stop()
    stopped = time.time()
    log(f"phase 4: Redis stopped; down for {OUTAGE:g} s")
    time.sleep(max(0.0, stopped + OUTAGE - time.time()))
    redis.start()
    started = time.time()
    log(f"phase 4: Redis back after {started - stopped:.1f} s")
    wait_until(lambda: keys <= receiver.first_arrivals(2).keys(),
               max(due.values()) - time.time() + ARRIVAL_TIMEOUT)
    return due, stopped, started


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


def _rows(label, figures, bar, duplicates, every=False):
    """Rows of one measure; `every`: the bar holds for every page (max), not only p95."""
    def verdict(value):
        return "missed" if value is None or value > bar or (value == bar and not every) \
            else "met"

    sign = "≤" if every else "<"
    all_there = f"{figures['delivered']} / {figures['expected']}"
    return [
        (label, "p50", _seconds(figures["p50"]), f"{sign} {bar:g} s", verdict(figures["p50"])),
        ("", "p95", _seconds(figures["p95"]), f"{sign} {bar:g} s", verdict(figures["p95"])),
        ("", "max", _seconds(figures["max"]), f"{sign} {bar:g} s" if every else "",
         verdict(figures["max"]) if every else ""),
        ("", "delivered", all_there, "all",
         "met" if figures["missing"] == 0 and figures["expected"] else "missed"),
        ("", "duplicates", str(duplicates), "0", "met" if duplicates == 0 else "missed"),
    ]


def measures(first, nxt, slow, outage, after, duplicates):
    """(label, figures, bar, duplicates, bar holds for every page) of each measure."""
    return [
        ("declare → level 1 delivered", first, FIRST_BAR, duplicates["first"], False),
        ("level-1 timeout → level 2 delivered", nxt, NEXT_BAR, duplicates["next"], False),
        (f"declare → first page, with one {SLOW:g} s-slow receiver on level 1", slow,
         FIRST_BAR, duplicates["slow"], False),
        (f"escalation lateness, steps due during a {OUTAGE:g} s broker outage", outage,
         LATE_BAR, duplicates["outage"], True),
        ("escalation lateness, steps due in the 8 s after the outage", after, LATE_BAR,
         duplicates["after"], True),
    ]


def render_report(facts, table, strays, interval, outage_window):
    results = [row for args in table for row in _rows(*args)]
    missed = _missed_names(results)
    stopped, started = outage_window
    lines = ["# Paging latency (`make bench`)", "",
             f"{PAGES} SEV-2 pages through `declare_incident`, one every {INTERVAL:g} s, "
             "with one paging engine (`manage.py run_paging_engine`, loop every "
             f"{interval:g} s, woken by PostgreSQL NOTIFY), a real Celery worker (prefork, "
             f"concurrency {CONCURRENCY}) and Celery beat on a Redis of the benchmark's "
             "own, PostgreSQL, all on this machine; webhooks to local HTTP receivers. One "
             "warm-up page before phase 1 is not counted. Then the same with a receiver "
             f"answering in {SLOW:g} s among level 1's contact methods, and "
             f"{OUTAGE_PAGES} escalation steps due 2 s apart while Redis was down "
             f"({started - stopped:.1f} s) and just after.", "",
             "## Machine", "", "| | |", "| --- | --- |"]
    lines += [f"| {name} | {value} |" for name, value in facts]
    lines += ["", "## Results", "", "| measure | figure | value | bar | result |",
              "| --- | --- | --- | --- | --- |"]
    lines += [f"| {' | '.join(row)} |" for row in results]
    lines += [""]
    if missed:
        lines += ["**Bars missed:** " + "; ".join(missed) + "."]
    else:
        lines += ["**Every bar met.**"]
    if strays:
        lines += ["", f"{strays} webhook(s) arrived for pages outside this run (not counted)."]
    lines += ["", "## Method", "",
              "- Times are `time.time()` on this machine: the declare figures start just "
              "before `declare_incident` is called (the commit wakes the engine, which "
              "runs level 1 and sends); the timeout figure starts at the instant written "
              "into the page's `next_step_at` (the engine's next loop finds it). Each ends "
              "when the receiver has read the webhook's request.",
              f"- Slow receiver: person S joins level 1 with a webhook answering after "
              f"{SLOW:g} s; the figure is person A's webhook, same level, same pages.",
              f"- Outage: the benchmark's own Redis (port {OwnRedis(BENCH_DIR).port}, "
              "never the machine's) is shut down, left down, and started again; each "
              "step's lateness is its level-2 webhook's arrival minus its `next_step_at`. "
              "The bar holds for every step, not only the p95.",
              "- Percentiles are nearest-rank over the pages that arrived; a missing page "
              f"(nothing within {ARRIVAL_TIMEOUT} s) or a duplicate (a second webhook for "
              "the same page and person) misses the bar on its own.",
              "- The level-2 figure includes up to one engine loop of waiting by design.",
              ""]
    return "\n".join(lines)


def headline(table):
    """The figures for the combined report (tests/bench/figures.py)."""
    rows = []
    for label, figures, bar, duplicates, every in table:
        sign = "≤" if every else "<"
        for key in ("p95", "max") if every else ("p50", "p95"):
            value = figures[key]
            rows.append(figure(f"{label}, {key}", _seconds(value), f"{sign} {bar:g} s",
                               value is not None and (value <= bar if every else value < bar)))
        complete = figures["missing"] == 0 and duplicates == 0 and figures["expected"]
        rows.append(figure(f"{label}: delivered, duplicates",
                           f"{figures['delivered']} / {figures['expected']}, "
                           f"{duplicates}", "all, 0", bool(complete)))
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
    redis = OwnRedis(BENCH_DIR)
    try:
        redis.start()
    except RedisError as exc:
        raise SetupError(str(exc)) from None
    try:
        _run(env, redis)
    finally:
        with contextlib.suppress(RedisError, OSError, subprocess.SubprocessError):
            redis.stop()


def _duplicates(counts, keys, path):
    return sum(counts.get((key, path), 0) - 1 for key in keys
               if counts.get((key, path), 0) > 1)


def _run(env, redis):
    redis_version = check_redis(env["REDIS_URL"])
    log("migrating")
    migrate(env)

    os.environ.update(env)
    import django

    django.setup()
    from django.conf import settings

    from mindweave_ir.celery import app
    from oncall.engine import running_engines

    reset_bench_data()
    purged = purge_queue(app)
    if purged:
        log(f"purged {purged} stale task(s) from the broker")
    for stale in BENCH_DIR.glob("celerybeat-schedule*"):
        stale.unlink()

    receiver, slow_receiver = Receiver(), Receiver(delay=SLOW)
    for server in (receiver, slow_receiver):
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    processes = Processes(env)
    run_id = datetime.now(UTC).strftime("%H%M%S")
    try:
        ic, level_one, slow_person = set_up_oncall(receiver, slow_receiver)
        nodename = f"bench{os.getpid()}@"
        processes.start("worker", celery("worker", "--pool=prefork",
                                         f"--concurrency={CONCURRENCY}", "--without-mingle",
                                         "--without-gossip", "--loglevel=INFO",
                                         "-n", f"{nodename}%h"))
        processes.start("beat", celery("beat", "--loglevel=INFO",
                                       f"--schedule={BENCH_DIR / 'celerybeat-schedule'}"))
        processes.start("engine", [sys.executable, "manage.py", "run_paging_engine"])
        log("waiting for the worker and the paging engine")
        wait_for_worker(app, nodename, processes)
        if not wait_until(lambda: running_engines().exists(), WORKER_READY_TIMEOUT):
            raise SetupError("the paging engine never looped; see "
                             f"{BENCH_DIR / 'engine.log'}")
        warm_up_key = warm_up(ic, receiver)
        processes.check_alive()

        log(f"phase 1: declaring {PAGES} SEV-2 incidents")
        pages = phase_one(ic, receiver, run_id)
        processes.check_alive()
        log(f"phase 2: expiring {PAGES} level-1 timeouts")
        timed_out = phase_two(pages, receiver)
        log(f"phase 3: declaring {PAGES} more with a {SLOW:g} s-slow receiver on level 1")
        slow_pages = phase_slow(ic, receiver, run_id, level_one, slow_person)
        processes.check_alive()
        log(f"phase 4: {OUTAGE_PAGES} escalation steps through a {OUTAGE:g} s Redis outage")
        due, stopped, started = phase_outage(ic, receiver, run_id, redis)
        time.sleep(SETTLE)
    finally:
        log("stopping the worker, beat and the paging engine")
        processes.stop()
        for server in (receiver, slow_receiver):
            server.shutdown()
            server.server_close()

    keys = [key for _, key, _ in pages]
    slow_keys = [key for _, key, _ in slow_pages]
    during = [key for key, at in due.items() if at < started]
    after = [key for key, at in due.items() if at >= started]
    counts = {**receiver.counts(), **slow_receiver.counts()}
    duplicates = {"first": _duplicates(counts, keys, "/oncall-a"),
                  "next": _duplicates(counts, keys, "/oncall-b"),
                  "slow": _duplicates(counts, slow_keys, "/oncall-a")
                  + _duplicates(counts, slow_keys, "/oncall-slow"),
                  "outage": _duplicates(counts, during, "/oncall-b"),
                  "after": _duplicates(counts, after, "/oncall-b")}
    level_two = receiver.first_arrivals(2)
    table = measures(
        measure({key: at for _, key, at in pages}, receiver.first_arrivals(1, "/oncall-a"),
                keys),
        measure(timed_out, level_two, keys),
        measure({key: at for _, key, at in slow_pages},
                receiver.first_arrivals(1, "/oncall-a"), slow_keys),
        measure(due, level_two, during), measure(due, level_two, after), duplicates)
    known = {*keys, *slow_keys, *due, warm_up_key}
    strays = sum(n for (key, _), n in counts.items() if key not in known)
    interval = settings.PAGING_ENGINE_INTERVAL_MS / 1000
    report = render_report(machine_facts(redis_version), table, strays, interval,
                           (stopped, started))
    REPORT.write_text(report)
    save("paging", headline(table))
    print(report, flush=True)
    log(f"report written to {REPORT.relative_to(ROOT)}")


def main():
    def on_sigterm(signum, frame):
        raise SystemExit(128 + signum)  # run the finally blocks: stop the processes, Redis

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
