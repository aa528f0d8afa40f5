"""The incident list's and the alert list's filters (django-filter)."""

import django_filters
from django import forms
from django.db.models import Q

from .forms import LocalDateTimeInput, UserChoiceField, responder_users
from .models import Alert, AlertStatus, Incident, Integration, Service, Severity, Status


class IncidentFilter(django_filters.FilterSet):
    """The incident list's filters: status, severity, service, commander, dates, text."""

    q = django_filters.CharFilter(method="search", label="Search")
    # distinct=False: plain columns cannot duplicate rows, and DISTINCT over every
    # column of a large table is what made the filtered list slow.
    status = django_filters.MultipleChoiceFilter(
        choices=Status.choices, widget=forms.CheckboxSelectMultiple, distinct=False
    )
    severity = django_filters.MultipleChoiceFilter(
        choices=Severity.choices, widget=forms.CheckboxSelectMultiple, distinct=False
    )
    service = django_filters.ModelChoiceFilter(
        field_name="services", queryset=Service.objects.all(), label="Service"
    )
    commander = django_filters.ModelChoiceFilter(
        queryset=lambda request: responder_users(), field_name="commander", label="Commander"
    )
    detected_after = django_filters.DateTimeFilter(
        field_name="detected_at", lookup_expr="gte", label="Detected from",
        widget=LocalDateTimeInput,
    )
    detected_before = django_filters.DateTimeFilter(
        field_name="detected_at", lookup_expr="lt", label="Detected before",
        widget=LocalDateTimeInput,
    )

    class Meta:
        model = Incident
        fields = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.filters["commander"].field_class = UserChoiceField

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(ref__iexact=value) | Q(title__icontains=value) | Q(description__icontains=value)
        )


class AlertFilter(django_filters.FilterSet):
    """The alert list's filters: status, integration, text (summary, key, source)."""

    q = django_filters.CharFilter(method="search", label="Search")
    status = django_filters.MultipleChoiceFilter(
        choices=AlertStatus.choices, widget=forms.CheckboxSelectMultiple
    )
    integration = django_filters.ModelChoiceFilter(queryset=Integration.objects.all())

    class Meta:
        model = Alert
        fields = []

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(summary__icontains=value) | Q(key__iexact=value)
                               | Q(source__icontains=value) | Q(incident__ref__iexact=value))
