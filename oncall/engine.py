"""The paging engine: escalation and page notifications from the database, no broker.

`manage.py run_paging_engine` runs one; run any number, on any hosts (DESIGN.md
"Runtime": its own database-driven process, like GoAlert's engine and healthchecks'
`sendalerts`; its loop is the one deliberate home-made scheduler). Each loop, at most
PAGING_ENGINE_INTERVAL_MS apart and at once when a page is triggered (oncall/wakeup.py):
1. Run every due escalation step (paging.run_page): each page is claimed with
   `select_for_update(skip_locked=True)` on PostgreSQL; on SQLite the transaction
   itself is the claim (settings open every transaction with BEGIN IMMEDIATE, which
   takes the database's one write lock before the page is read). Either way the second
   engine finds the step no longer due, so no step runs twice.
2. Hand every due page notification to this engine's own senders: PAGING_SEND_THREADS
   threads, one notification each at a time (paging.deliver: claimed with a
   conditional UPDATE that must touch exactly one row, recorded before and after the
   send). Nothing else runs on them: communications, reminders, automations and
   notices stay on Celery. One receiver (a webhook host and port, or the SMTP server)
   gets at most half of the threads and every send is bounded by
   NOTIFICATION_HTTP_TIMEOUT (EMAIL_TIMEOUT for e-mail), so a slow or hanging
   receiver delays its own notifications only.
3. Record the loop's time in this engine's EngineHeartbeat row.
4. Once every DEADMAN_INTERVAL, if DEADMAN_URL is set and escalation is on time, ping
   it from a thread of its own (oncall/deadman.py): a hanging receiver never delays 1-3.
A database error is logged and the loop retried with backoff (0.5 s doubling to 5 s).
`stop()` (SIGTERM) lets the sends in progress finish and returns; notifications not
yet started were never claimed, so another engine (or this one, restarted) sends them.
"""

import contextlib
import logging
import os
import queue
import socket
import threading
import time
from collections import Counter, deque
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, close_old_connections, connection, connections
from django.db.utils import DatabaseError, InterfaceError
from django.utils import timezone

from . import paging, wakeup
from .deadman import DeadmanSwitch
from .models import PHONE_KINDS, ContactKind, EngineHeartbeat

log = logging.getLogger(__name__)

BACKOFF_START, BACKOFF_MAX = 0.5, 5.0  # seconds, after a database error
WAKE_SLICE = 0.1  # seconds: how soon a finished send or a stop is noticed on PostgreSQL
HEARTBEAT_EVERY = 1.0  # seconds; the row is written at most this often
FORGET_AFTER = timedelta(days=1)  # heartbeat rows of engines long gone are removed
RUNNING_WITHIN = timedelta(minutes=1)  # an engine that looped this recently is running
DB_ERRORS = (DatabaseError, InterfaceError)


def receiver_of(kind, target):
    """Who answers a send: the SMTP server for e-mail, Twilio for SMS and voice, else
    the URL's host and port."""
    if kind == ContactKind.EMAIL:
        return "email"
    if kind in PHONE_KINDS:
        return "twilio"
    try:
        parts = urlsplit(target or "")
        return f"{kind}:{parts.hostname}:{parts.port or ''}"
    except ValueError:  # a malformed port: the send fails fast anyway
        return f"{kind}:?"


class Senders:
    """`threads` threads sending page notifications, at most `per_receiver` per receiver.

    The engine's loop thread alone calls offer(), dispatch() and stop(); the threads
    only take jobs and report them done.
    """

    def __init__(self, threads, *, per_receiver=None, on_done=None):
        self.size = threads = max(1, threads)
        self.per_receiver = per_receiver or max(1, threads // 2)
        self.on_done = on_done or (lambda: None)
        self._jobs, self._done = queue.SimpleQueue(), queue.SimpleQueue()
        self._threads = [threading.Thread(target=self._work, name=f"paging-sender-{i + 1}",
                                          daemon=True) for i in range(threads)]
        self.waiting = deque()  # (pk, receiver) not yet handed to a thread
        self._known = set()  # pks waiting or being sent here
        self._busy = Counter()  # receiver -> sends in progress
        self._free = threads

    def start(self):
        for thread in self._threads:
            thread.start()

    def offer(self, rows):
        """Queue (pk, kind, target) rows not already waiting or being sent here."""
        for pk, kind, target in rows:
            if pk not in self._known:
                self._known.add(pk)
                self.waiting.append((pk, receiver_of(kind, target)))

    def held(self):
        """The pks waiting or being sent here (a copy)."""
        return list(self._known)

    def dispatch(self):
        """Hand waiting notifications, oldest first, to free threads within each
        receiver's share; a receiver at its share waits without holding up the rest."""
        self._reap()
        held = deque()
        while self.waiting and self._free:
            pk, receiver = self.waiting.popleft()
            if self._busy[receiver] >= self.per_receiver:
                held.append((pk, receiver))
                continue
            self._busy[receiver] += 1
            self._free -= 1
            self._jobs.put((pk, receiver))
        held.extend(self.waiting)
        self.waiting = held

    def _reap(self):
        while True:
            try:
                pk, receiver = self._done.get_nowait()
            except queue.Empty:
                return
            self._known.discard(pk)
            self._free += 1
            self._busy[receiver] -= 1
            if self._busy[receiver] <= 0:
                del self._busy[receiver]

    def _work(self):
        while (job := self._jobs.get()) is not None:
            pk = job[0]
            try:
                close_old_connections()
                log.info("notification %s: %s", pk, paging.deliver(pk))
            except Exception:  # noqa: BLE001 - one send's failure never stops the engine
                # Claimed but not recorded: the auditor marks it interrupted, never resends.
                log.exception("notification %s: sending failed", pk)
            finally:
                close_old_connections()
                self._done.put(job)
                self.on_done()
        connections.close_all()

    def stop(self, timeout):
        """Drop what has not started (it was never claimed), finish what has, join."""
        self.waiting.clear()
        for _ in self._threads:
            self._jobs.put(None)
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return [thread.name for thread in self._threads if thread.is_alive()]


class Listener:
    """LISTEN on its own PostgreSQL connection: returns early on wakeup.ring()'s NOTIFY.

    Only an optimisation: on any error it closes, sleeps the interval and retries on
    the next wait, and the engine polls meanwhile.
    """

    def __init__(self):
        self._db = None

    def wait(self, seconds):
        """Up to `seconds`; True if a wake-up arrived."""
        try:
            if self._db is None:
                self._db = connections.create_connection(DEFAULT_DB_ALIAS)
                self._db.ensure_connection()  # autocommit, as Django opens it
                self._db.connection.execute(f"LISTEN {wakeup.CHANNEL}")
            return any(True for _ in self._db.connection.notifies(timeout=seconds,
                                                                   stop_after=1))
        except Exception as exc:  # noqa: BLE001 - polling still finds every due step
            log.warning("paging engine: listening for wake-ups failed (%s); polling", exc)
            self.close()
            time.sleep(seconds)
            return False

    def close(self):
        if self._db is not None:
            with contextlib.suppress(Exception):  # a dead connection is being dropped
                self._db.close()
            self._db = None


class PagingEngine:
    """One engine: `run()` loops until `stop()`; `loop_once()` is one iteration."""

    def __init__(self, *, name=None, interval=None, threads=None, per_receiver=None):
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self.interval = (settings.PAGING_ENGINE_INTERVAL_MS / 1000 if interval is None
                         else interval)
        self._wake, self._stopping = threading.Event(), threading.Event()
        self.senders = Senders(threads or settings.PAGING_SEND_THREADS,
                               per_receiver=per_receiver, on_done=self._wake.set)
        self._listener = Listener() if connection.vendor == "postgresql" else None
        self._failures = 0
        self._beat_at = None  # time.monotonic() of the last heartbeat written
        self.deadman = DeadmanSwitch(self.name)

    def stop(self):
        """Ask the loop to finish (safe from a signal handler or another thread)."""
        self._stopping.set()
        self._wake.set()

    def run(self):
        wakeup.listen_here(self._wake)
        self.senders.start()
        log.info("paging engine %s: running (loop every %.2f s, %d send threads)",
                 self.name, self.interval, self.senders.size)
        try:
            while not self._stopping.is_set():
                self._wake.clear()
                self._wait(self._loop_safely())
        finally:
            wakeup.stop_listening_here(self._wake)
            stuck = self.senders.stop(settings.NOTIFICATION_HTTP_TIMEOUT
                                      + settings.EMAIL_TIMEOUT + 5)
            if stuck:
                log.warning("paging engine %s: %s still sending at exit", self.name, stuck)
            self._forget()
            if self._listener is not None:
                self._listener.close()
            connections.close_all()
            log.info("paging engine %s: stopped", self.name)

    def loop_once(self, now=None):
        """Run due steps, hand due notifications to the senders, beat, ping the dead-man's
        switch when due; the steps run."""
        now = now or timezone.now()
        steps = 0
        for page_id in paging.due_page_ids(now):
            if self._stopping.is_set():
                break
            steps += self._step(page_id, now)
        # The steps' own notifications are due now: they go out in this same loop.
        self.senders.offer(paging.due_notifications(timezone.now(), held=self.senders.held()))
        self.senders.dispatch()
        self._heartbeat(timezone.now())
        self.deadman.after_loop(timezone.now())
        return steps

    def _step(self, page_id, now):
        try:
            result = paging.run_page(page_id, now=now)
        except DB_ERRORS:
            raise
        except Exception:  # noqa: BLE001 - one broken page never stops the others
            log.exception("page %s: its escalation step failed; retrying next loop", page_id)
            return 0
        if result == "not due":  # another engine ran it first
            return 0
        log.info("%s", result)
        return 1

    def _loop_safely(self):
        """One loop; how long to wait before the next (backing off after DB errors)."""
        try:
            self.loop_once()
        except DB_ERRORS as exc:
            self._failures += 1
            delay = min(BACKOFF_MAX, BACKOFF_START * 2 ** (self._failures - 1))
            log.warning("paging engine %s: database error (%s); retrying in %.1f s",
                        self.name, exc, delay)
            self._drop_connection()
            return delay
        self._failures = 0
        return self.interval

    def _wait(self, seconds):
        """Until `seconds` pass, or sooner: a wake-up (NOTIFY, or this process's), a stop,
        or a send finishing (it may free a thread for a waiting notification)."""
        if self._listener is None or self._failures:
            self._wake.wait(seconds)
            return
        deadline = time.monotonic() + seconds
        while not self._wake.is_set() and (left := deadline - time.monotonic()) > 0:
            if self._listener.wait(min(left, WAKE_SLICE)):
                return

    def _heartbeat(self, now):
        if self._beat_at is not None and time.monotonic() - self._beat_at < HEARTBEAT_EVERY:
            return
        if not EngineHeartbeat.objects.filter(name=self.name).update(last_loop_at=now):
            EngineHeartbeat.objects.filter(last_loop_at__lt=now - FORGET_AFTER).delete()
            EngineHeartbeat.objects.create(name=self.name, started_at=now, last_loop_at=now)
        self._beat_at = time.monotonic()

    def _forget(self):
        with contextlib.suppress(*DB_ERRORS):  # else the row goes stale, removed in a day
            EngineHeartbeat.objects.filter(name=self.name).delete()

    @staticmethod
    def _drop_connection():
        with contextlib.suppress(*DB_ERRORS):
            connection.close()


def running_engines(now=None):
    """Heartbeats of the engines that looped within RUNNING_WITHIN."""
    now = now or timezone.now()
    return EngineHeartbeat.objects.filter(last_loop_at__gte=now - RUNNING_WITHIN)


def check_running(now=None):
    """For the auditor: False, and an error in the log, when no engine is looping."""
    if running_engines(now).exists():
        return True
    log.error("No paging engine has looped in the last %d s: escalation steps and page "
              "notifications wait for the auditor (a minute late). Run "
              "`python manage.py run_paging_engine`.", RUNNING_WITHIN.total_seconds())
    return False
