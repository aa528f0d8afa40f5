"""The metrics page's filters: period (whole days in the viewer's zone), severity,
service, and which KPI's incidents the table lists."""

import django_filters
from django import forms
from django.utils import timezone
from django.utils.functional import cached_property

from incidents.models import Incident, Service, Severity
from mindweave_ir.inputs import BoundedDateField

from ..metrics import Period, in_period, last_days

DEFAULT_DAYS = 90
MAX_DAYS = 3660  # ten years: the page draws a bar per month

BEHIND_CHOICES = [
    ("mtta", "MTTA: acknowledged"),
    ("mtti", "MTTI: identified"),
    ("mttr", "MTTR: resolved"),
    ("volume", "Volume: SEV-1/SEV-2"),
    ("repeat", "Repeat rate: a review names the cause"),
    ("pir", "PIR completion: reviews due or approved"),
    ("sla_response", "Response SLA: met or missed"),
    ("sla_resolution", "Resolution SLA: met or missed"),
]


def with_defaults(query, today):
    """The query string with the period filled in where it was left out or empty."""
    data = query.copy()
    default = last_days(DEFAULT_DAYS, today=today, tz=None)
    for name, value in (("start", default.first_day), ("end", default.last_day)):
        if not data.get(name):
            data[name] = value.isoformat()
    return data


class DateInput(forms.DateInput):
    input_type = "date"


class PeriodDayFilter(django_filters.DateFilter):
    """A day from 2000-01-01 to ten years ahead, with the window in the error: a
    year-1 or year-9999 day overflows when the period is widened by a zone or by the
    repeat window."""

    field_class = BoundedDateField


class MetricsFilterForm(forms.Form):
    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end:
            if end < start:
                self.add_error("end", "The period must end on or after the day it starts.")
            elif (end - start).days >= MAX_DAYS:
                self.add_error("start", f"Choose a period of at most {MAX_DAYS} days.")
        return data


class MetricsFilter(django_filters.FilterSet):
    """Bind it with `with_defaults(request.GET, today)`: the period is always set."""

    start = PeriodDayFilter(label="From", method="keep", widget=DateInput)
    end = PeriodDayFilter(label="To", method="keep", widget=DateInput,
                                    help_text="Both days included, in your time zone.")
    severity = django_filters.MultipleChoiceFilter(
        choices=Severity.choices, widget=forms.CheckboxSelectMultiple)
    service = django_filters.ModelChoiceFilter(
        field_name="services", queryset=Service.objects.all(), label="Service")
    kpi = django_filters.ChoiceFilter(choices=BEHIND_CHOICES, method="keep",
                                      label="Incidents behind",
                                      empty_label="Every incident counted")

    class Meta:
        model = Incident
        fields = []
        form = MetricsFilterForm

    def keep(self, queryset, name, value):
        """The period is cut once both ends are known; `kpi` only chooses table rows."""
        return queryset

    @cached_property
    def period(self):
        data = self.form.cleaned_data
        default = last_days(DEFAULT_DAYS, today=timezone.localdate(),
                            tz=timezone.get_current_timezone())
        return Period(data.get("start") or default.first_day,
                      data.get("end") or default.last_day, timezone.get_current_timezone())

    def filter_queryset(self, queryset):
        return in_period(super().filter_queryset(queryset), self.period)

    @property
    def behind_kpi(self):
        return self.form.cleaned_data.get("kpi") or ""
