"""Issue 17 item 5 in a real browser: a Manager cannot approve a review that still holds
the template's placeholders ("Implement [safeguard]") or an empty "What could be
improved?"; the in-app button and the admin both say which sections, and nothing is
approved."""

import re

import pytest
from playwright.sync_api import expect

from reports.models import PIRState, PostIncidentReview
from reports.services import submit_for_review
from tests.reports.factories import resolved_pir
from tests.reports.pir import add_item, write_root_cause

from .test_ic_flow import log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_approving_a_review_with_placeholders_is_refused_naming_each_section(
        page, ic, manager, responder):
    pir = resolved_pir(ic)
    add_item(pir, ic, responder)
    submit_for_review(write_root_cause(pir, ic), by=ic)  # lessons unwritten, [condition] left
    log_in(page, "manager")

    page.goto(f"/reports/pir/{pir.incident.ref}/")
    page.get_by_role("button", name="Approve").click()

    refusal = page.locator("#pir-header [role=alert]")
    expect(refusal).to_contain_text("What went well? is not written yet")
    expect(refusal).to_contain_text("What could be improved? is not written yet")
    expect(refusal).to_contain_text("“Add monitoring for [condition]” still holds [condition]")
    expect(refusal).to_contain_text("“Implement [safeguard]” still holds [safeguard]")
    expect(page.locator("#pir-header .badges")).to_contain_text("In review")

    page.goto(f"/admin/reports/postincidentreview/{pir.pk}/change/")
    page.get_by_role("button", name="Approve").click()
    admin_refusal = page.locator(".messagelist .error")
    expect(admin_refusal).to_contain_text(re.compile(r"Not approved.*What could be improved\?"))
    expect(admin_refusal).to_contain_text("“Update runbook for [scenario]” still holds [scenario]")
    assert PostIncidentReview.objects.get(pk=pir.pk).state == PIRState.IN_REVIEW
