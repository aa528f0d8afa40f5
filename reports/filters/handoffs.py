"""The on-call log's filters (the handoff index)."""

import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q

from incidents.forms import UserChoiceField
from oncall.models import Schedule

from ..models import Handoff, HandoffState


class HandoffFilter(django_filters.FilterSet):
    """The on-call log's filters: schedule, person, state, dates, text."""

    q = django_filters.CharFilter(method="search", label="Search")
    schedule = django_filters.ModelChoiceFilter(queryset=Schedule.objects.all())
    person = django_filters.ModelChoiceFilter(
        method="by_person", label="Person",
        queryset=get_user_model().objects.filter(is_active=True).order_by("username"))
    state = django_filters.MultipleChoiceFilter(choices=HandoffState.choices,
                                                widget=forms.CheckboxSelectMultiple)
    after = django_filters.DateFilter(field_name="shift_end", lookup_expr="date__gte",
                                      label="Handoff from",
                                      widget=forms.DateInput(attrs={"type": "date"}))
    before = django_filters.DateFilter(field_name="shift_end", lookup_expr="date__lte",
                                       label="Handoff until",
                                       widget=forms.DateInput(attrs={"type": "date"}))

    class Meta:
        model = Handoff
        fields = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.filters["person"].field_class = UserChoiceField

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(summary__icontains=value) | Q(unresolved__icontains=value)
                               | Q(schedule_name__icontains=value))

    def by_person(self, queryset, name, value):
        return queryset.filter(Q(outgoing=value) | Q(incoming=value)) if value else queryset
