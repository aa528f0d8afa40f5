"""Placeholder: being written."""

from django.http import Http404


def pir_pdf(request, *args, **kwargs):
    raise Http404


def incident_report(request, *args, **kwargs):
    raise Http404
