"""Tables of the metrics page: the incidents behind the numbers, and the KPI figures
(the CSV export)."""

import django_tables2 as tables
from django.db.models import F
from django.utils.html import format_html

from incidents.models import Incident, Severity
from mindweave_ir.tables import WhenColumn

from ..metrics.definitions import format_duration
from ..metrics.queries import FIRST, LATE, ON_TIME, PENDING, REPEAT
from ..models import RootCauseCategory

VERDICTS = {  # value: (text, CSS class)
    "met": ("met", "kpi-met"), "missed": ("missed", "kpi-missed"),
    PENDING: ("pending", "kpi-pending"),
    REPEAT: ("repeat", "kpi-missed"), FIRST: ("first", "kpi-met"),
    ON_TIME: ("on time", "kpi-met"), LATE: ("late", "kpi-missed"),
}


def _verdict(value):
    text, css = VERDICTS.get(value, ("—", ""))
    return format_html('<span class="verdict {}">{}</span>', css, text)


class DurationColumn(tables.Column):
    def __init__(self, verbose_name):
        super().__init__(verbose_name=verbose_name, empty_values=(None,),
                         attrs={"td": {"class": "num"}})

    def render(self, value):
        return format_duration(value)


class VerdictColumn(tables.Column):
    def __init__(self, verbose_name):
        super().__init__(verbose_name=verbose_name, empty_values=())

    def render(self, value):
        return _verdict(value)


class MetricsIncidentTable(tables.Table):
    """Each incident the KPIs counted, with the times and verdicts they counted."""

    ref = tables.Column(verbose_name="ID", linkify=True)
    title = tables.Column()
    severity = tables.Column()
    detected_at = WhenColumn(verbose_name="Detected")
    tta = DurationColumn("To acknowledge")
    tti = DurationColumn("To identify")
    ttr = DurationColumn("To resolve")
    response_sla = VerdictColumn("Response SLA")
    resolution_sla = VerdictColumn("Resolution SLA")
    cause = tables.Column(verbose_name="Root cause", empty_values=(None, ""))
    repeat = VerdictColumn("Repeat")
    review = VerdictColumn("Review")

    class Meta:
        model = Incident
        fields = ("ref", "title", "severity", "detected_at")
        sequence = ("ref", "title", "severity", "detected_at", "tta", "tti", "ttr",
                    "response_sla", "resolution_sla", "cause", "repeat", "review")
        order_by = ("-detected_at",)
        attrs = {"class": "table metrics-incidents"}
        empty_text = "No incident counts towards this number."

    def _nulls_last(self, queryset, name, is_descending):
        field = F(name)
        order = field.desc(nulls_last=True) if is_descending else field.asc(nulls_last=True)
        return queryset.order_by(order, "-detected_at"), True

    # Incidents whose clock never stopped sort last either way (PostgreSQL would put
    # them first when descending).
    def order_tta(self, queryset, is_descending):
        return self._nulls_last(queryset, "tta", is_descending)

    def order_tti(self, queryset, is_descending):
        return self._nulls_last(queryset, "tti", is_descending)

    def order_ttr(self, queryset, is_descending):
        return self._nulls_last(queryset, "ttr", is_descending)

    def order_cause(self, queryset, is_descending):
        return self._nulls_last(queryset, "cause", is_descending)

    def render_severity(self, value, record):
        return format_html('<span class="badge sev-{}">{}</span>', record.severity,
                           Severity(record.severity).label)

    def render_cause(self, value):
        return RootCauseCategory(value).label if value in RootCauseCategory.values else value


class FigureTable(tables.Table):
    """The KPI figures, one per line: what `?format=csv` writes."""

    key = tables.Column(verbose_name="key")
    kpi = tables.Column(verbose_name="kpi")
    scope = tables.Column(verbose_name="scope")
    statistic = tables.Column(verbose_name="statistic")
    display = tables.Column(verbose_name="value")
    raw = tables.Column(verbose_name="raw", empty_values=())
    target = tables.Column(verbose_name="target")
    status = tables.Column(verbose_name="status")

    class Meta:
        orderable = False

    def value_raw(self, value):
        return "" if value is None else value
