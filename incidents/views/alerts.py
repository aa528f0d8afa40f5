"""The alert list (issue 6 item 4): every alert, filterable, with why it went where."""

from django.shortcuts import render
from django.views.decorators.http import require_GET

from mindweave_ir import tables
from mindweave_ir.htmx import is_fragment

from ..filters import AlertFilter
from ..models import Alert
from ..tables import AlertTable


@require_GET
def alert_list(request):
    """Filters, a sortable paginated table; HTMX gets only the table."""
    queryset = Alert.objects.select_related("integration", "incident")
    filterset = AlertFilter(request.GET or None, queryset=queryset)
    rows = filterset.qs if filterset.is_bound and filterset.is_valid() else queryset
    table = AlertTable(rows)
    tables.configure(request, table, per_page=50)
    template = "incidents/alerts/alert_list.html"
    if is_fragment(request):
        template += "#alert-table"
    return render(request, template, {"filter": filterset, "table": table})
