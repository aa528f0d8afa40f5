"""The §7 metrics page: KPIs against targets, monthly trends, the incidents behind them.

`?format=csv` gives the same KPI figures as the page (one list feeds both). Bad filter
values get the page back with the form's errors and a 400, never a 500. An HTMX
request for the table (sorting, paging) gets only the table, without computing the
KPIs again.
"""

import functools
import hashlib
from dataclasses import asdict

from django.core.cache import cache
from django.db import connection
from django.http import HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.decorators.http import require_GET

from incidents.models import Incident
from mindweave_ir import tables
from mindweave_ir.csv_export import csv_response
from mindweave_ir.live import pages as page_cache
from mindweave_ir.live import versions
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
    change of each table, every one an index lookup (a count would scan), so rows
    written in bulk, outside any service, count too. A deleted row that was neither
    is seen when the cache expires (CACHE_SECONDS)."""
    with connection.cursor() as cursor:
        cursor.execute(_data_version_sql())
        return repr(cursor.fetchone())


@functools.cache
def _data_version_sql():
    """_data_version's five index lookups in one statement (one round trip; it is
    all a repeat view of the page runs). Names from the models' metadata, quoted."""
    quote = connection.ops.quote_name
    newest = [f"(SELECT MAX({quote(column)}) FROM {quote(model._meta.db_table)})"  # noqa: S608  # nosec B608
              for model, columns in ((Incident, ("id", "updated_at")),
                                     (PostIncidentReview, ("id", "updated_at")),
                                     (Notification, ("id",)))
              for column in columns]
    return "SELECT " + ", ".join(newest)


def _report_key(filterset, data_version):
    """The key of the KPI report and of the table behind it: the filters, the zone and
    the data's version, read before anything the report reads. The report also
    depends on the time (open incidents' durations), so what is kept under it lives
    CACHE_SECONDS at most."""
    params = sorted((k, str(v)) for k, v in filterset.form.cleaned_data.items())
    return "metrics:" + hashlib.sha256(
        f"{params}{filterset.period}{timezone.get_current_timezone_name()}"
        f"{data_version}".encode()).hexdigest()


def _report(filterset, now, key):
    """metrics.compute for these filters, kept under `key` (the template caches the
    KPI cards under it too)."""
    report = cache.get(key)
    if report is None:
        report = metrics.compute(filterset.qs, period=filterset.period, now=now)
        cache.set(key, report, CACHE_SECONDS)
    return report


@require_GET
def metrics_page(request):
    """The page, kept whole per viewer under the data's version and the day for as
    long as the report (mindweave_ir/live/pages.py): a repeat view renders nothing."""
    data_version = _data_version()
    return page_cache.serve(
        request, ("metrics", timezone.localdate().isoformat(), data_version),
        lambda: (_metrics_page(request, data_version), None), CACHE_SECONDS)


def _metrics_page(request, data_version):
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
    key = _report_key(filterset, data_version)
    fragment = bool(request.htmx and not request.htmx.boosted)
    context = {"filter": filterset, "period": filterset.period,
               "behind": dict(BEHIND_CHOICES).get(filterset.behind_kpi, ""),
               "behind_choices": BEHIND_CHOICES}

    def table():
        rows = MetricsIncidentTable(metrics.behind(filterset.qs, filterset.behind_kpi, now=now,
                                                   period=filterset.period))
        tables.configure(request, rows, per_page=PER_PAGE)
        return render_to_string(f"{TEMPLATE}#metrics-table", {**context, "table": rows},
                                request)

    table_html = versions.cached(("metrics-table", key, request.GET.urlencode()), table,
                                 CACHE_SECONDS)
    if fragment:
        return HttpResponse(table_html)
    report = _report(filterset, now, key)
    # `cards` is passed uncalled: the template only builds the cards when its cached
    # KPI section (same key, same lifetime as the report) has expired.
    return render(request, TEMPLATE, {**context, "table_html": table_html, "report": report,
                                      "cards": report.cards, "report_key": key,
                                      "cache_seconds": CACHE_SECONDS, "kpis": metrics.KPIS,
                                      "exclusions": metrics.EXCLUSIONS})
