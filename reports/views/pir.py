"""Placeholder: being written."""

from django.http import Http404


def pir_detail(request, *args, **kwargs):
    raise Http404


def pir_section(request, *args, **kwargs):
    raise Http404


def action_item_add(request, *args, **kwargs):
    raise Http404


def action_item_edit(request, *args, **kwargs):
    raise Http404


def action_item_delete(request, *args, **kwargs):
    raise Http404


def pir_workflow(request, *args, **kwargs):
    raise Http404
