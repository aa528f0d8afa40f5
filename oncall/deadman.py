"""The dead-man's switch: while a paging engine is healthy it POSTs to DEADMAN_URL every
DEADMAN_INTERVAL seconds, so something outside (healthchecks.io, an Alertmanager fed
a watchdog alert ...) pages a human when the pings stop: the engine died, its loop
stalled, the database stopped answering, or escalation is running late.

Healthy means, checked once per interval after one of the engine's loops finished:
1. the loop ran (the check is made from the loop, after its work: a loop that raised,
   e.g. on a database error, checks nothing and sends nothing);
2. the database answered (the check's own two queries: a failure propagates into the
   engine's error handling, and no ping goes);
3. no escalation step and no page notification is overdue by more than OVERDUE_AFTER.

The ping never delays paging: it is sent from its own daemon thread, one at a time (a
receiver that hangs costs one thread until DEADMAN_TIMEOUT, and the next ping waits for
it instead of piling up), through the one outbound client (mindweave_ir/outbound.py),
so an internal receiver is refused unless OUTBOUND_ALLOWED_NETWORKS allows it.
"""

import json
import logging
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from mindweave_ir import outbound

from .models import DeliveryStatus, Notification, Page, PageStatus

log = logging.getLogger(__name__)

OVERDUE_AFTER = timedelta(minutes=1)
ALERT_NAME = "MindWeaveIRPagerAlive"


def problem(now):
    """Why escalation is not healthy right now, or None (two indexed queries)."""
    limit = now - OVERDUE_AFTER
    if Page.objects.filter(status=PageStatus.TRIGGERED, next_step_at__lt=limit).exists():
        return "an escalation step is overdue by more than a minute"
    if Notification.objects.filter(status=DeliveryStatus.QUEUED, due_at__lt=limit,
                                   page__status=PageStatus.TRIGGERED).exists():
        return "a page notification is overdue by more than a minute"
    return None


def body(name, now, interval):
    """What a ping carries: an Alertmanager v2 alert list (POST /api/v2/alerts accepts it
    as is), ending a few intervals from now, so the alert resolves when pings stop. Any
    other receiver (healthchecks.io) just logs it."""
    ends = now + timedelta(seconds=max(3 * interval, 180))
    return json.dumps([{
        "labels": {"alertname": ALERT_NAME, "service": "mindweave-ir", "engine": name},
        "annotations": {"summary": "The MindWeave IR paging engine is looping and on time."},
        "startsAt": now.isoformat(), "endsAt": ends.isoformat(),
    }]).encode()


class DeadmanSwitch:
    """One engine's switch. `after_loop()` is called by the engine's loop thread alone."""

    def __init__(self, name, *, url=None, interval=None, timeout=None):
        self.name = name
        self.url = settings.DEADMAN_URL if url is None else url
        self.interval = settings.DEADMAN_INTERVAL if interval is None else interval
        self.timeout = settings.DEADMAN_TIMEOUT if timeout is None else timeout
        self._checked_at = None  # time.monotonic() of the last health check
        self._sending = threading.Event()  # set while a ping is in flight
        self.last_outcome = ""  # of the latest ping, for the log and tests

    def after_loop(self, now=None):
        """After a loop's work: if a ping is due, check health; healthy: ping (in a
        thread). Returns what happened, for the log and tests."""
        if not self.url:
            return "off"
        if self._checked_at is not None and time.monotonic() - self._checked_at < self.interval:
            return "not due"
        self._checked_at = time.monotonic()
        now = now or timezone.now()
        why = problem(now)
        if why:
            log.warning("paging engine %s: dead-man's switch not pinged: %s", self.name, why)
            return f"unhealthy: {why}"
        if self._sending.is_set():
            log.warning("paging engine %s: the previous dead-man's ping is still waiting for "
                        "an answer; skipping this one", self.name)
            return "previous ping still in flight"
        self._sending.set()
        threading.Thread(target=self._ping, args=(body(self.name, now, self.interval),),
                         name="deadman-ping", daemon=True).start()
        return "pinging"

    def _ping(self, payload):
        try:
            answer = outbound.post(self.url, payload, {"Content-Type": "application/json"},
                                   timeout=self.timeout)
            self.last_outcome = str(answer)
            if not 200 <= answer.status < 300:
                log.warning("dead-man's switch: the receiver answered %s", answer)
        except outbound.OutboundError as exc:
            self.last_outcome = f"not delivered: {exc}"
            log.warning("dead-man's switch: ping not delivered: %s", exc)
        except Exception:  # noqa: BLE001 - a ping's failure never reaches the engine
            self.last_outcome = "failed"
            log.exception("dead-man's switch: ping failed")
        finally:
            self._sending.clear()
