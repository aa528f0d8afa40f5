import django_filters
from django import forms
from django.db.models import Q

from .models import Alert, AlertStatus, Integration


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
