"""The paging side of `/metrics` (mindweave_ir/metrics.py): read from the database at
scrape time, a fixed handful of aggregate queries whatever the history.

- escalation lateness: for each notification due within the last
  METRICS_LATENESS_WINDOW_MINUTES and already handed to its channel, `sending_at -
  due_at` (a notification is due when its escalation step was, plus the method's delay:
  oncall/paging.py), as a gauge histogram over that window (read through the `due_at`
  index; a window, not all history, so the scrape stays cheap);
- escalation overdue: how long the oldest due escalation step or queued notification of
  an open page has been waiting (0 when none): late work not yet fired, which the
  histogram cannot see while no engine runs;
- notifications by channel and outcome: final outcomes as counters, queued and sending
  as gauges (one GROUP BY);
- deliveries failing: page notifications and notices re-queued after an error
  (retrying) and failed for good;
- the paging engines' last loop (EngineHeartbeat) and how many looped in the last
  minute; beat's last run (`note_beat`, a beat-scheduled task writing the shared cache).
"""

from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, F, Max, Min, Q, Sum
from django.utils import timezone
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeHistogramMetricFamily,
    GaugeMetricFamily,
)

from .engine import RUNNING_WITHIN
from .models import (
    DeliveryStatus,
    EngineHeartbeat,
    Notice,
    Notification,
    Page,
    PageStatus,
)

LATENESS_BUCKETS = (1, 2, 5, 10, 30, 60, 120, 300, 600, 1800)  # seconds
FINAL = (DeliveryStatus.SENT, DeliveryStatus.FAILED, DeliveryStatus.CANCELLED)
IN_FLIGHT = (DeliveryStatus.QUEUED, DeliveryStatus.SENDING)
BEAT_KEY = "mindweave:beat:last-run"
BEAT_KEY_TTL = 7 * 24 * 3600  # seconds; a beat silent longer than this is "never"


def note_beat(now=None):
    """Beat's heartbeat (oncall.tasks.beat_heartbeat): when a beat-scheduled task last
    ran. The shared cache, not a table: Redis in production, seen by every web host."""
    cache.set(BEAT_KEY, (now or timezone.now()).timestamp(), BEAT_KEY_TTL)


def beat_last_run():
    """The Unix time of beat's last heartbeat, or None."""
    return cache.get(BEAT_KEY)


def _seconds(value):
    if value is None:
        return 0.0
    return value.total_seconds() if isinstance(value, timedelta) else value / 1e6


def lateness(now):
    """(bucket counts {le: n}, count, sum of seconds) over the window."""
    window = timedelta(minutes=settings.METRICS_LATENESS_WINDOW_MINUTES)
    late = F("sending_at") - F("due_at")
    buckets = {f"b{i}": Count("pk", filter=Q(sending_at__lte=F("due_at") + timedelta(seconds=b)))
               for i, b in enumerate(LATENESS_BUCKETS)}
    row = (Notification.objects
           .filter(due_at__gte=now - window, due_at__lte=now, sending_at__isnull=False)
           .aggregate(n=Count("pk"), total=Sum(late), **buckets))
    counts = {b: row[f"b{i}"] for i, b in enumerate(LATENESS_BUCKETS)}
    return counts, row["n"], max(0.0, _seconds(row["total"]))


def overdue_seconds(now):
    """How long the oldest due step or queued notification of an open page has waited."""
    step = (Page.objects.filter(status=PageStatus.TRIGGERED, next_step_at__lte=now)
            .aggregate(oldest=Min("next_step_at"))["oldest"])
    notification = (Notification.objects
                    .filter(status=DeliveryStatus.QUEUED, due_at__lte=now,
                            page__status=PageStatus.TRIGGERED)
                    .aggregate(oldest=Min("due_at"))["oldest"])
    oldest = min((t for t in (step, notification) if t is not None), default=None)
    return max(0.0, (now - oldest).total_seconds()) if oldest else 0.0


def retrying_and_failed(model):
    return model.objects.filter(status__in=(DeliveryStatus.QUEUED, DeliveryStatus.FAILED)) \
        .aggregate(retrying=Count("pk", filter=Q(status=DeliveryStatus.QUEUED,
                                                 attempts__gt=0)),
                   failed=Count("pk", filter=Q(status=DeliveryStatus.FAILED)))


class PagingCollector:
    """The paging engine's figures, gathered at each scrape."""

    def collect(self):
        now = timezone.now()
        counts, n, total = lateness(now)
        window = settings.METRICS_LATENESS_WINDOW_MINUTES
        yield GaugeHistogramMetricFamily(
            "mindweave_escalation_lateness_seconds",
            f"Page notifications due in the last {window} min and sent: seconds from due "
            "(the escalation step's due time plus the method's delay) to handed to the "
            "channel.",
            buckets=[(str(float(b)), counts[b]) for b in LATENESS_BUCKETS] + [("+Inf", n)],
            gsum_value=total)
        yield GaugeMetricFamily(
            "mindweave_escalation_overdue_seconds",
            "Age of the oldest escalation step or page notification that is due and not "
            "fired yet (0: none).", value=overdue_seconds(now))

        totals = CounterMetricFamily(
            "mindweave_notifications", "Page notifications that reached a final outcome, "
            "by channel.", labels=["channel", "outcome"])
        pending = GaugeMetricFamily(
            "mindweave_notifications_pending", "Page notifications queued or being sent, "
            "by channel.", labels=["channel", "state"])
        failing = GaugeMetricFamily(
            "mindweave_deliveries_failing", "Deliveries re-queued after an error, waiting "
            "for their retry.", labels=["kind"])
        failed = CounterMetricFamily(
            "mindweave_deliveries_failed", "Deliveries that failed for good.",
            labels=["kind"])
        rows = Notification.objects.values("kind", "status").annotate(
            n=Count("pk"), retrying=Count("pk", filter=Q(attempts__gt=0)))
        retrying = failed_for_good = 0
        for row in rows.order_by("kind", "status"):
            if row["status"] in FINAL:
                totals.add_metric([row["kind"], row["status"]], row["n"])
            elif row["status"] in IN_FLIGHT:
                pending.add_metric([row["kind"], row["status"]], row["n"])
            if row["status"] == DeliveryStatus.QUEUED:
                retrying += row["retrying"]
            if row["status"] == DeliveryStatus.FAILED:
                failed_for_good += row["n"]
        notices = retrying_and_failed(Notice)
        failing.add_metric(["notification"], retrying)
        failing.add_metric(["notice"], notices["retrying"])
        failed.add_metric(["notification"], failed_for_good)
        failed.add_metric(["notice"], notices["failed"])
        yield totals
        yield pending
        yield failing  # the incidents collector adds its kinds to these two
        yield failed

        engines = EngineHeartbeat.objects.aggregate(
            last=Max("last_loop_at"),
            running=Count("pk", filter=Q(last_loop_at__gte=now - RUNNING_WITHIN)))
        if engines["last"] is not None:
            yield GaugeMetricFamily(
                "mindweave_engine_last_loop_timestamp_seconds",
                "Unix time of the latest loop of any paging engine.",
                value=engines["last"].timestamp())
        yield GaugeMetricFamily(
            "mindweave_engines_running", "Paging engines that looped in the last minute.",
            value=engines["running"])
        beat = beat_last_run()
        if beat is not None:
            yield GaugeMetricFamily(
                "mindweave_beat_last_run_timestamp_seconds",
                "Unix time a beat-scheduled task last ran on a worker (beat and a worker "
                "both alive).", value=beat)
