"""Receiving inbound alert bodies: stored raw first, then applied at once or queued and
drained under the integration's lock; dedup and grouping happen in apply.py.

DESIGN.md's reliability rules, in order:
1. The raw body is stored first, in its own committed row (outcome "received"),
   before it is acted on; whatever happens next only changes that row's outcome.
   Nothing stored is lost: a received body is applied by its own request, by
   whichever request or task holds the integration's lock next, or by the beat.
2. Bodies are applied under the integration's row lock, in payload-id order, each in
   its own savepoint, so a storm of identical alerts (even from many web processes)
   is serialised: the first opens the alert, the rest fold into it. The partial
   unique constraint on open alerts backs this up; a collision retries the body.
   The lock "combines": a request that gets it at once applies every received body
   of the integration (its own among them) and answers with its own results; one
   that finds it taken answers "queued" without waiting, and a task drains later.
   One that sees a drain task already on its way (the wake flag, wake.py)
   answers "queued" without trying the lock: under a storm a request is then one
   INSERT (the token checked in it, store.py), mostly without even a cache round
   trip (a drain task that stays while the storm lasts is trusted, see _accept), and
   the task applies what gathered meanwhile, up to BATCH to a transaction.
   A body that raises is marked failed (error kept) without undoing the others.
3. A firing alert joins the open incident of its group (Alertmanager's groupKey,
   the Events API's dedup_key) or opens one that pages on-call like a declared one.
4. Resolving an alert notes it on the incident's timeline; the incident stays open.
5. A firing alert that matches an active silence (matchers.py) is stored and
   deduplicated as in 1-2 but opens no incident and pages nobody; its routing names
   the silence. Expiring a silence re-fires nothing retroactively: the next message
   about an alert it suppressed (Alertmanager repeats firing alerts) is routed as in 3.
"""

import logging
import re
import time
import uuid
from contextlib import nullcontext
from datetime import timedelta
from typing import NamedTuple

from django.db import IntegrityError, transaction
from django.utils import timezone

from ..models import InboundPayload, IntegrationKind, PayloadOutcome
from . import wake
from .apply import Batch
from .apply import apply_message as _apply  # a module global: tests replace it to fail
from .cloudwatch import parse_alarm_notification
from .parse import PayloadError, load_json, parse_alertmanager, parse_event, routing_key_of
from .store import lock_integration, pending_count, settle, store_payload

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
RETRIES = 3
BATCH = 100  # bodies applied per transaction (and per lock hold)
REQUEST_BUDGET = 1.0  # seconds a request may spend draining others' bodies
TASK_BUDGET = 10.0  # seconds a drain task works before it hands over to a new task
STALE_AFTER = timedelta(seconds=5)  # received this long ago and still pending: the beat's
LINGER = 0.2  # seconds: while bodies keep coming, a drain task reads at most this often
GATHER_POLL = 0.025  # seconds between its looks at how many bodies are pending meanwhile
QUEUED = "queued"
_GENERATED_KEYS = uuid.UUID("6b0f3f8e-2d6c-4f1e-9a57-1f4b8f0c2e11")


class Receipt(NamedTuple):
    """What a request answers: one result dict per alert, and whether they wait in the
    queue (outcome "queued") rather than having been applied."""

    results: list
    queued: bool


class PayloadFailed(Exception):
    """The body was applied by another request or task, and failed there."""


# --- raw bodies ---------------------------------------------------------------------

def _settle(payload, outcome, *, error="", result=""):
    InboundPayload.objects.filter(pk=payload.pk).update(outcome=outcome, error=error,
                                                       result=result)


def mark_failed(payload, exc):
    """An unexpected error while handling `payload`: say so on the kept body, unless a
    drain already settled it (a drain marks the bodies that fail under it itself)."""
    InboundPayload.objects.filter(pk=payload.pk, outcome=PayloadOutcome.RECEIVED).update(
        outcome=PayloadOutcome.FAILED, error=f"{type(exc).__name__}: {exc}")


def _decode(body):
    if isinstance(body, str):
        return body
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError([f"body is not UTF-8: {exc}"]) from None


def _generated_key(payload_pk):
    """The dedup key of an Events API trigger sent without one: derived from its stored
    body's id, so the request and a later drain of that body agree on it."""
    return uuid.uuid5(_GENERATED_KEYS, f"inbound-payload-{payload_pk}").hex


def _parse_stored(integration, payload):
    """The messages of a body another request stored (it validated them; a body whose
    request died before it could is refused here as it would have been there)."""
    data = load_json(payload.body)
    if integration.kind == IntegrationKind.ALERTMANAGER:
        return parse_alertmanager(data)
    if integration.kind == IntegrationKind.CLOUDWATCH:
        # Only notifications are stored pending; their signature was checked first.
        return parse_alarm_notification(data)
    routing_key_of(data)
    return parse_event(data, missing_key=_generated_key(payload.pk))


# --- requests: validate, then apply at once or queue ---------------------------------

def receive_alertmanager(payload, body):
    """Parse and apply (or queue) an Alertmanager body already stored as `payload` (a
    Stored row or an InboundPayload). Returns a Receipt; raises PayloadError (payload
    marked rejected)."""
    try:
        messages = parse_alertmanager(load_json(_decode(body)))
    except PayloadError as exc:
        _settle(payload, PayloadOutcome.REJECTED, error="\n".join(exc.errors))
        raise
    return _accept(payload, messages)


def receive_event(payload, data):
    """Apply (or queue) an Events API body (parsed once to find its routing key, and
    stored as `payload`). Returns a Receipt; raises PayloadError (payload marked
    rejected)."""
    try:
        messages = parse_event(data, missing_key=_generated_key(payload.pk))
    except PayloadError as exc:
        _settle(payload, PayloadOutcome.REJECTED, error="\n".join(exc.errors))
        raise
    return _accept(payload, messages)


def receive_cloudwatch(integration, payload, envelope):
    """Apply (or queue) a CloudWatch alarm notification, its SNS signature verified and
    its body stored. Returns a Receipt; raises PayloadError (payload marked rejected)."""
    try:
        messages = parse_alarm_notification(envelope)
    except PayloadError as exc:
        _settle(payload, PayloadOutcome.REJECTED, error="\n".join(exc.errors))
        raise
    return _accept(payload, messages)


def raise_internal(integration, messages, body):
    """Apply messages the product itself raises (heartbeats) through the same path as
    an inbound body: `body` (a JSON text saying what happened) is kept like one.

    It waits for the lock (its callers are a beat and a ping, not a sender that must
    be answered at once) and stores its body only once it holds it, so no other drain
    ever sees that body (which is no message format) pending. Bodies received before
    it are applied first. Returns the result dicts; an error applying it is raised
    (after its body is marked failed).
    """
    with transaction.atomic():
        lock_integration(integration.pk, wait=True)
        payload = store_payload(integration, body)
        outcome = _drain(integration.pk, wait=True, own=_Own(payload.pk, messages),
                         until_own=True).own
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def _accept(payload, messages):
    """Apply the pending bodies of the integration if its lock is free now, else
    queue: answer from what happened to this request's own body.

    A drain task already on its way (the wake flag set, on a cache all processes
    share) will read what is pending after it starts, this committed body among them:
    a request that reads the flag set answers "queued" at once, without trying the
    lock. Otherwise it takes the flag, and gives it back once it holds the lock (before
    reading what is pending, so whoever saw the flag meanwhile is drained by it), or,
    finding the lock taken, sends the task the flag announces.

    A drain task that holds the flag reads again and again while bodies keep coming,
    and, once it stops, reads a last time at least TRUST after giving the flag back.
    So a process that saw it held at t may answer "queued" without asking the cache
    for bodies committed before t + TRUST (wake.trusted): under a storm most
    requests are then the INSERT alone (the cache round trip was a sixth of a
    request's CPU)."""
    integration_id = payload.integration_id
    if wake.trusted(integration_id):
        return _queued(messages)
    shared = wake.shared()
    if shared and wake.seen(integration_id):  # the usual case under a storm: one read
        return _queued(messages)
    claimed = wake.claim(integration_id)
    if not claimed and shared:
        return _queued(messages)
    done = _drain(integration_id, wait=False, own=_Own(payload.pk, messages),
                  budget=REQUEST_BUDGET, give_back_wake=claimed)
    if done.busy and claimed and not done.settled:
        # Taken at the first try: the flag is still ours, and its task must be sent.
        # (Taken later, after this drain held the lock and gave the flag back, the
        # holder took the lock after that, so it reads this body, and drains or sends
        # a task for what is pending when it stops: a second task would only wait.)
        transaction.on_commit(lambda: wake.wake(integration_id))
    elif done.more:
        wake.enqueue_drain(integration_id)
    if isinstance(done.own, Exception):
        raise done.own
    if done.own is not None:
        return Receipt(done.own, queued=False)
    if not done.busy and not done.more:
        # The lock was free yet the body was not pending: a drain that held the lock
        # between our INSERT and our turn applied it. Answer what it did.
        row = InboundPayload.objects.values("outcome", "error", "result").get(pk=payload.pk)
        if row["outcome"] == PayloadOutcome.PROCESSED:
            return Receipt(_results_from(row["result"], messages), queued=False)
        raise PayloadFailed(row["error"])
    return _queued(messages)


def _queued(messages):
    return Receipt([{"key": m.key, "alert": None, "outcome": QUEUED, "action": m.action}
                    for m in messages], queued=True)


def _results_from(stored, messages):
    """The result dicts of a body another drain applied, from its `result` lines."""
    results = []
    for message, line in zip(messages, stored.split("\n"), strict=False):
        outcome = line.removeprefix(f"{message.key}: ")
        alert = re.search(r"alert #(\d+)", outcome)
        results.append({"key": message.key, "alert": int(alert.group(1)) if alert else None,
                        "outcome": outcome, "action": message.action})
    return results


# --- draining: apply pending bodies under the integration's lock ---------------------

class _Own(NamedTuple):
    """The caller's own body, already parsed."""

    pk: int
    messages: list


class _Drained(NamedTuple):
    settled: int  # bodies settled (processed, rejected or failed)
    own: object  # the own body's result dicts or exception; None if not reached
    busy: bool  # another holder had the lock (and drains what is pending)
    more: bool  # the budget ran out with bodies still pending


def _pending(integration_id):
    return InboundPayload.objects.filter(integration_id=integration_id,
                                         outcome=PayloadOutcome.RECEIVED)


def drain(integration_id, *, budget=TASK_BUDGET):
    """Task: wait for the integration's lock and apply its pending bodies; returns how
    many were settled. Past `budget` seconds a new task takes over the rest.

    While bodies keep coming (a storm: each read finds new ones), the task stays: it
    holds the wake flag (set by the request that sent it; DRAINING once it has read),
    so requests meanwhile answer "queued" without trying the lock or sending another
    task, and it reads again once bodies have gathered (_gather: at most LINGER after
    its last read), so each transaction applies what came in meanwhile instead of one
    or two bodies (a loop of tiny batches cost three times the CPU per body). A read
    that finds nothing ends that: the flag is given back, then, once no process trusts
    it any longer (wake.TRUST), what is pending is read a last time (see wake.py)."""
    deadline = time.monotonic() + budget
    settled, held = 0, False
    while time.monotonic() < deadline:
        started = time.monotonic()
        done = _drain(integration_id, wait=True, deadline=deadline, caught_up=True)
        settled += done.settled
        if not done.settled:
            break
        wake.hold(integration_id)  # more may be coming: this task reads again
        held = True
        _gather(integration_id, until=min(started + LINGER, deadline))
    wake.give_back(integration_id)  # before the last read
    if held:
        wake.wait_out_trust()  # until no process trusts it any longer
    if settled == 0 and not _pending(integration_id).exists():
        return 0  # the usual case: a request's drain already took them
    done = _drain(integration_id, wait=True, deadline=max(deadline, time.monotonic() + 1.0))
    if done.more:
        wake.enqueue_drain(integration_id)
    return settled + done.settled


def _gather(integration_id, *, until):
    """Wait for bodies to gather before the next read, until `until` (a monotonic time)
    at most: less once a full batch is pending, or once what is pending stopped
    growing between two looks (the senders paused: what came need not wait longer)."""
    seen = 0  # just read up to the last one
    while (left := until - time.monotonic()) > 0:
        time.sleep(min(GATHER_POLL, left))
        pending = pending_count(integration_id, BATCH)
        if pending >= BATCH or pending == seen:
            return
        seen = pending


def drain_stale(*, now=None):
    """Beat: drain every integration with a body pending for longer than STALE_AFTER
    (its task was lost, or the broker flushed); returns how many were settled."""
    cutoff = (now or timezone.now()) - STALE_AFTER
    stale = (InboundPayload.objects.filter(outcome=PayloadOutcome.RECEIVED,
                                           received_at__lt=cutoff)
             .order_by().values_list("integration_id", flat=True).distinct())
    return sum(drain(integration_id) for integration_id in list(stale))


def _drain(integration_id, *, wait, own=None, budget=None, deadline=None, until_own=False,
           caught_up=False, give_back_wake=False):
    """Apply the integration's pending bodies in id order, BATCH per transaction, until
    none is pending, or `budget` seconds are spent (or the `deadline`, a monotonic
    time, is past; own body applied or not: the caller then answers "queued" for it),
    or (`until_own`) the own body is applied: bodies received after it were queued by
    their requests, which found the lock taken and enqueued a drain task, or
    (`caught_up`) a batch was not full. `give_back_wake`: the caller set the wake
    flag, cleared here once the lock is held, before the first read of what is
    pending."""
    if budget is not None:
        deadline = time.monotonic() + budget
    settled, own_outcome = 0, None
    while True:
        with transaction.atomic():
            locked = lock_integration(integration_id, wait=wait)
            if locked is None:
                return _Drained(settled, own_outcome, busy=True, more=False)
            if give_back_wake:
                wake.give_back(integration_id)
                give_back_wake = False
            batch = list(_pending(integration_id).order_by("id")
                         .only("id", "integration_id", "body")[:BATCH])
            if not batch:
                return _Drained(settled, own_outcome, busy=False, more=False)
            outcomes = _apply_batch(locked, batch, own)
        settled += len(batch)
        if own is not None and own.pk in outcomes:
            own_outcome = outcomes[own.pk]
            if until_own:
                return _Drained(settled, own_outcome, busy=False, more=False)
        if caught_up and len(batch) < BATCH:
            return _Drained(settled, own_outcome, busy=False, more=False)
        if deadline is not None and time.monotonic() >= deadline:
            more = _pending(integration_id).exists()
            return _Drained(settled, own_outcome, busy=False, more=more)


def _apply_batch(integration, batch, own):
    """Apply the bodies of `batch` in order and settle them all in one statement;
    returns {payload id: its result dicts, or the exception it raised}.

    First all in one savepoint (a savepoint per body costs two round trips); if any
    body raises, that is undone and each body is applied again in its own savepoint,
    so the one that fails is marked failed without undoing the others."""
    outcomes, work = {}, []
    for payload in batch:
        try:
            messages = own.messages if own is not None and payload.pk == own.pk \
                else _parse_stored(integration, payload)
        except PayloadError as exc:
            payload.outcome, payload.error = PayloadOutcome.REJECTED, "\n".join(exc.errors)
            payload.result, outcomes[payload.pk] = "", exc
            continue
        work.append((payload, messages))
    context = Batch(integration, [m.key for _, messages in work for m in messages])
    try:
        with transaction.atomic() if work else nullcontext():
            applied = [(payload, [_apply(context, m) for m in messages])
                       for payload, messages in work]
            context.flush()
    except Exception:  # noqa: BLE001 - undone; body by body below finds which one
        context.forget()
        applied = [(payload, _apply_one(context, payload, messages, own))
                   for payload, messages in work]
    for payload, results in applied:
        if isinstance(results, Exception):
            payload.outcome, payload.error = PayloadOutcome.FAILED, \
                f"{type(results).__name__}: {results}"
            payload.result = ""
        else:
            payload.outcome, payload.error = PayloadOutcome.PROCESSED, ""
            payload.result = "\n".join(f"{r['key']}: {r['outcome']}" for r in results)
        outcomes[payload.pk] = results
    context.announce()
    settle(batch)
    return outcomes


def _apply_one(context, payload, messages, own):
    """One body in its own savepoint: its result dicts, or the exception it raised."""
    try:
        return _apply_payload(context, messages)
    except Exception as exc:  # noqa: BLE001 - kept on the body; the others go on
        context.forget()
        if own is None or payload.pk != own.pk:
            log.exception("applying inbound payload %s failed", payload.pk)
        return exc


def _apply_payload(context, messages):
    """One body's messages in one savepoint: all applied, or none."""
    for attempt in range(RETRIES):
        try:
            with transaction.atomic():
                results = [_apply(context, message) for message in messages]
                context.flush()
                return results
        except IntegrityError:
            # Another writer opened the same key between our read and insert (only
            # possible without the lock); the retry reads afresh and folds into it.
            context.forget()
            if attempt == RETRIES - 1:
                raise
    return []
