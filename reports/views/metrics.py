"""The §7 metrics page: KPIs against targets, monthly trends, the incidents behind them.

`?format=csv` gives the same KPI figures as the page (one list feeds both). Bad filter
values get the page back with the form's errors and a 400, never a 500. An HTMX
request for the table (sorting, paging) gets only the table, without computing the
KPIs again.
"""

import hashlib
from dataclasses import asdict

from django.core.cache import cache
from django.db.models import Max
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from incidents.models import Incident
from mindweave_ir import tables
from mindweave_ir.csv_export import csv_response
from oncall.models import Notification

from .. import metrics
from ..filters import BEHIND_CHOICES, MetricsFilter, with_defaults
from ..models import PostIncidentReview
from ..tables import FigureTable, MetricsIncidentTable

TEMPLATE = "reports/metrics.html"
PER_PAGE = 25
CACHE_SECONDS = 60


def _data_version():
    """Changes whenever anything the KPIs read changes: the newest row and the latest
    change of each table, every one an index lookup (a count would scan). A deleted
    row that was neither is seen when the minute's cache expires."""
    incidents = Incident.objects.aggregate(last=Max("id"), at=Max("updated_at"))
    reviews = PostIncidentReview.objects.aggregate(last=Max("id"), at=Max("updated_at"))
    notified = Notification.objects.aggregate(last=Max("id"))
    return f"{incidents}{reviews}{notified}"


def _report(filterset, now):
    """metrics.compute for these filters, cached for a minute and only while no
    incident, review or notification has changed (the key holds their version);
    returns the report and its key (the template caches the KPI cards under it)."""
    params = sorted((k, str(v)) for k, v in filterset.form.cleaned_data.items())
    key = "metrics:" + hashlib.sha256(
        f"{params}{filterset.period}{timezone.get_current_timezone_name()}"
        f"{_data_version()}".encode()).hexdigest()
    report = cache.get(key)
    if report is None:
        report = metrics.compute(filterset.qs, period=filterset.period, now=now)
        cache.set(key, report, CACHE_SECONDS)
    return report, key


@require_GET
def metrics_page(request):
    filterset = MetricsFilter(with_defaults(request.GET, timezone.localdate()),
                              queryset=metrics.real_incidents())
    if not filterset.is_valid():
        return render(request, TEMPLATE, {"filter": filterset}, status=400)
    now = timezone.now()
    if request.GET.get("format") == "csv":
        report = metrics.compute(filterset.qs, period=filterset.period, now=now)
        table = FigureTable([asdict(f) for f in report.figures()])
        return csv_response(table, f"metrics-{filterset.period.first_day:%Y%m%d}-"
                                    f"{filterset.period.last_day:%Y%m%d}.csv")
    table = MetricsIncidentTable(metrics.behind(filterset.qs, filterset.behind_kpi, now=now,
                                                period=filterset.period))
    tables.configure(request, table, per_page=PER_PAGE)
    context = {"filter": filterset, "table": table, "period": filterset.period,
               "behind": dict(BEHIND_CHOICES).get(filterset.behind_kpi, ""),
               "behind_choices": BEHIND_CHOICES}
    if request.htmx and not request.htmx.boosted:
        return render(request, f"{TEMPLATE}#metrics-table", context)
    report, report_key = _report(filterset, now)
    # `cards` is passed uncalled: the template only builds the cards when its cached
    # KPI section (same key, same lifetime as the report) has expired.
    return render(request, TEMPLATE, {**context, "report": report, "cards": report.cards,
                                      "report_key": report_key, "cache_seconds": CACHE_SECONDS,
                                      "kpis": metrics.KPIS, "exclusions": metrics.EXCLUSIONS})
