"""Helpers shared by the post-incident review tests (test_pir_review, test_pir_workflow,
test_action_items): through reports.services.pir directly, and through the pages."""

import re
from datetime import date, timedelta

from django.test import Client

from reports.models import PostIncidentReview
from reports.services import pir as services

from .factories import finish_sections

HX = {"HTTP_HX_REQUEST": "true"}


def as_user(user):
    client = Client()
    client.force_login(user)
    return client


def url(pir, suffix=""):
    return f"/reports/pir/{pir.incident.ref}/{suffix}"


def fresh(pir):
    return PostIncidentReview.objects.get(pk=pir.pk)


def field_block(text, name):
    """The rendered `_field.html` block of one form field."""
    match = re.search(rf'<div class="field field-{name}[^"]*">.*?</div>\s*</div>|'
                      rf'<div class="field field-{name}[^"]*">.*?</div>', text, re.S)
    assert match, f"no field {name}"
    return match.group(0)


def write_root_cause(pir, by):
    return services.update_section(
        pir, section="root_cause", expected_version=fresh(pir).version, by=by,
        data={"what_happened": "Release 42 broke card payments.",
              "why_it_happened": "No canary for the payment path."})


def add_item(pir, by, owner, **kwargs):
    return services.add_action_item(pir, action="Add a payments canary", owner=owner,
                                    due_date=date.today() + timedelta(days=7), by=by, **kwargs)


def in_review(pir, by):
    finish_sections(pir, by)
    write_root_cause(pir, by)
    return services.submit_for_review(fresh(pir), by=by)


def approve(pir, ic, manager, responder):
    finish_sections(pir, ic)
    services.add_action_item(pir, action="Canary payments", owner=responder,
                             due_date=date.today() + timedelta(days=7), by=ic)
    services.update_section(pir, section="root_cause", expected_version=fresh(pir).version,
                            by=ic, data={"what_happened": "Release 42 broke payments.",
                                         "why_it_happened": "No canary."})
    services.submit_for_review(pir, by=ic)
    return services.approve(pir, by=manager)
