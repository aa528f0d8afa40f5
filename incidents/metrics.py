"""The incidents side of `/metrics` (mindweave_ir/metrics.py): read from the database at
scrape time, a fixed handful of aggregate queries whatever the history.

- inbound bodies waiting: alert bodies stored but not yet applied (incidents/ingest:
  outcome "received", the rows the partial index `incidents_inbound_pending` holds), and
  how long the oldest has waited;
- open incidents by severity (every severity listed, 0 included);
- deliveries failing: communications (e-mail, Slack and webhook updates) and Slack app
  calls re-queued after an error, and failed for good (added to oncall's families).
"""

from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from oncall.metrics import retrying_and_failed

from .models import (
    CommsDelivery,
    InboundPayload,
    Incident,
    PayloadOutcome,
    Severity,
    SlackCall,
    Status,
)


class IncidentsCollector:
    """Inbound backlog, open incidents and communications' failures, at each scrape."""

    def collect(self):
        now = timezone.now()
        inbound = InboundPayload.objects.filter(outcome=PayloadOutcome.RECEIVED).aggregate(
            n=Count("pk"), oldest=Min("received_at"))
        yield GaugeMetricFamily("mindweave_inbound_waiting",
                                "Inbound alert bodies stored and not yet applied.",
                                value=inbound["n"])
        age = (now - inbound["oldest"]).total_seconds() if inbound["oldest"] else 0.0
        yield GaugeMetricFamily("mindweave_inbound_oldest_age_seconds",
                                "How long the oldest waiting inbound body has waited "
                                "(0: none waiting).", value=max(0.0, age))

        counts = dict(Incident.objects.exclude(status=Status.RESOLVED)
                      .values_list("severity").annotate(n=Count("pk")).order_by())
        open_incidents = GaugeMetricFamily("mindweave_incidents_open",
                                           "Incidents not resolved, by severity.",
                                           labels=["severity"])
        for severity in Severity:
            open_incidents.add_metric([severity.label], counts.get(severity.value, 0))
        yield open_incidents

        failing = GaugeMetricFamily("mindweave_deliveries_failing",
                                    "Deliveries re-queued after an error, waiting for "
                                    "their retry.", labels=["kind"])
        failed = CounterMetricFamily("mindweave_deliveries_failed",
                                     "Deliveries that failed for good.", labels=["kind"])
        for kind, model in (("comms", CommsDelivery), ("slack", SlackCall)):
            row = retrying_and_failed(model)
            failing.add_metric([kind], row["retrying"])
            failed.add_metric([kind], row["failed"])
        yield failing
        yield failed
