"""Where an ingest request's time goes: cProfile over requests made in this process
through Django's test client (the middleware stack the served path gets, the short
one for the inbound endpoints as mindweave_ir/wsgi.py chooses; the view, the
database: the bench's PostgreSQL and Redis), one alert per body.

    python -m tests.bench.ingest_profile     (alone; the ingest benchmark also runs it)

Paths, each on a fresh integration:
- "queued": a drain task holds the wake flag, as under a storm, so each request
  stores its body and answers at once (the first reads the flag and trusts the task,
  the rest do not ask): the request path of issue 19 item 2;
- the worker's drain of those bodies, per body;
- "inline": nothing else is going on, so each request applies its own body;
- /healthz, the floor.
`profile_paths()` returns, per path, the milliseconds per request (or body) under the
profiler and the top entries by cumulative time from the view down.
"""

import cProfile
import io
import json
import os
import pstats
import re
import time
from datetime import UTC, datetime

REQUESTS = 300
TOP = 10
DUMP = os.environ.get("INGEST_PROFILE_DUMP")  # a folder: keep the raw profiles there


def am_body(run_id, n):
    from tests.bench.ingest_rate import body

    return body(run_id, 0, [n])


def event_body(token, run_id, n):
    return json.dumps({"routing_key": token, "event_action": "trigger",
                       "dedup_key": f"{run_id}-{n}",
                       "payload": {"summary": f"profile {n}", "source": "bench",
                                   "severity": "warning"}}).encode()


ROOTS = ("alertmanager_webhook", "events_enqueue", "healthz", "drain", "_drain")


def _top(profile, requests):
    """The TOP entries by cumulative time from the view (or the drain) down, as (ms per
    request, ncalls, function): the test client and middleware around it left out."""
    stats = pstats.Stats(profile, stream=io.StringIO())
    rows = []
    for (filename, line, name), (_, ncalls, _, cumulative, _) in stats.stats.items():
        where = filename.split("site-packages/")[-1].split("/work/")[-1]
        for prefix in ("w-ingest/", "main/"):
            where = where.removeprefix(prefix)
        rows.append((cumulative, ncalls, f"{where}:{line}({name})", name))
    root = max((r for r in rows if r[3] in ROOTS), default=None)
    if root is not None:
        rows = [r for r in rows if r[0] <= root[0]]
    rows.sort(reverse=True)
    return [(cumulative * 1000 / requests, ncalls, name)
            for cumulative, ncalls, name, _ in rows[:TOP]]


def _run(label, work, requests, *, calls=None):
    """Profile `work(n)` for n in range(calls, default `requests`); figures per request."""
    profile = cProfile.Profile()
    started = time.perf_counter()
    profile.enable()
    for n in range(requests if calls is None else calls):
        work(n)
    profile.disable()
    wall = time.perf_counter() - started
    if DUMP:
        profile.dump_stats(f"{DUMP}/{re.sub(r'[^a-z]+', '-', label.lower()).strip('-')}.prof")
    return {"path": label, "requests": requests, "ms": wall * 1000 / requests,
            "top": _top(profile, requests)}


class _ProductionStacks:
    """The test client's handler, but choosing the middleware stack as
    mindweave_ir.wsgi does: the short one for the inbound endpoints."""

    def __init__(self):
        from django.test.client import ClientHandler

        from mindweave_ir.wsgi import INBOUND_PATH, inbound_middleware

        self.full, self.path = ClientHandler(False), INBOUND_PATH
        self.inbound = ClientHandler(False)
        with inbound_middleware():
            self.inbound.load_middleware()  # else loaded at its first request

    def __call__(self, environ):
        handler = self.inbound if self.path.match(environ["PATH_INFO"]) else self.full
        return handler(environ)


def profile_paths(requests=REQUESTS):
    """Profile the request paths and the drain (see the module docstring)."""
    from django.core.cache import cache
    from django.test import Client

    from incidents import ingest
    from incidents.ingest import receive, wake
    from incidents.models import IntegrationKind

    client = Client(HTTP_HOST="127.0.0.1")
    client.handler = _ProductionStacks()  # the inbound paths' short stack, as served
    results = []
    run_id = datetime.now(UTC).strftime("%Y%m%d%H%M%S%f")

    def post(path, data, expect):
        response = client.post(path, data, content_type="application/json")
        assert response.status_code == expect, (response.status_code, response.content)

    def fresh(kind, name):
        return ingest.create_integration(name=f"bench-profile-{name}-{run_id}", kind=kind)

    def drain_on_its_way(integration):
        """A drain task holds the flag, as under a storm: requests trust it."""
        cache.set(wake.key(integration.pk), wake.DRAINING, timeout=600)

    am, am_token = fresh(IntegrationKind.ALERTMANAGER, "am-queued")
    path = f"/api/v1/integrations/{am_token}/alertmanager"
    post(path, am_body(run_id, -1), 200)  # warm up: the first alert opens the incident
    drain_on_its_way(am)
    results.append(_run("Alertmanager, a drain task draining (answered queued)",
                        lambda n: post(path, am_body(run_id, n), 200), requests))
    # The drain's work alone: a task's waits for more bodies (receive.drain) are idle.
    results.append(_run("the worker's drain of those bodies, per body",
                        lambda n: receive._drain(am.pk, wait=True), requests, calls=1))

    ev, ev_token = fresh(IntegrationKind.EVENTS, "events-queued")
    post("/api/v1/events/v2/enqueue", event_body(ev_token, run_id, -1), 202)
    drain_on_its_way(ev)
    results.append(_run("Events API, a drain task draining (answered queued)",
                        lambda n: post("/api/v1/events/v2/enqueue",
                                       event_body(ev_token, run_id, n), 202), requests))
    ingest.drain(ev.pk)

    inline, inline_token = fresh(IntegrationKind.ALERTMANAGER, "am-inline")
    path = f"/api/v1/integrations/{inline_token}/alertmanager"
    post(path, am_body(run_id, -1), 200)
    results.append(_run("Alertmanager, nothing else going on (applied inline)",
                        lambda n: post(path, am_body(run_id, n), 200), requests))
    results.append(_run("/healthz", lambda n: client.get("/healthz"), requests))
    return results


def render(results):
    lines = []
    for result in results:
        lines += [f"**{result['path']}**: {result['ms']:.2f} ms per request "
                  f"({result['requests']} profiled)", "",
                  "| cumulative ms / request | calls | function |", "| --- | --- | --- |"]
        lines += [f"| {ms:.2f} | {calls} | `{name}` |" for ms, calls, name in result["top"]]
        lines.append("")
    return "\n".join(lines)


def main():
    import django

    from tests.bench.ingest_rate import _env
    from tests.bench.paging_latency import ensure_database, migrate

    env = _env()
    ensure_database(env["DATABASE_URL"])
    migrate(env)
    os.environ.update(env)
    django.setup()
    print(render(profile_paths()))


if __name__ == "__main__":
    main()
