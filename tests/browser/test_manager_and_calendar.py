"""A manager approves a review in the admin and downloads its PDF; an on-call engineer
adds an override from the schedule page and sees it on the calendar. Real Chromium."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from oncall.models import Override, Schedule, ScheduleMember
from reports.models import PIRState, PostIncidentReview
from reports.services import submit_for_review
from tests.reports.factories import ready_for_review, resolved_pir

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def log_in(page, username, landing):
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "pw-for-tests-only")
    page.click("button[type=submit]")
    expect(page.get_by_role("heading", name=re.compile(landing))).to_be_visible()


@pytest.mark.pdf
def test_manager_approves_a_review_in_the_admin_and_downloads_the_pdf(page, manager, ic):
    pir = ready_for_review(resolved_pir(ic), ic, ic)
    submit_for_review(pir, by=ic)
    log_in(page, "manager", "Active incidents")

    page.goto(f"/admin/reports/postincidentreview/{pir.pk}/change/")
    expect(page.locator("#pir-workflow h2")).to_contain_text("In review")
    page.get_by_role("button", name="Approve").click()

    expect(page.locator("#pir-workflow h2")).to_contain_text("Approved")
    assert PostIncidentReview.objects.get(pk=pir.pk).state == PIRState.APPROVED
    page.goto(f"/reports/pir/{pir.incident.ref}/")
    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile("PDF")).first.click()
    path = download.value.path()
    assert download.value.suggested_filename == f"{pir.incident.ref}-pir.pdf"
    with open(path, "rb") as pdf:
        assert pdf.read(5) == b"%PDF-"


def test_an_override_added_on_the_schedule_page_shows_on_the_calendar(page, responder, ic):
    schedule = Schedule.objects.create(name="Primary On-Call", timezone="UTC",
                                       starts_on=timezone.localdate() - timedelta(days=7))
    ScheduleMember.objects.create(schedule=schedule, user=ic, position=0)
    ScheduleMember.objects.create(schedule=schedule, user=responder, position=1)
    log_in(page, "responder", "Active incidents")
    # Tomorrow may be in next week's grid (on a Sunday it is): show the week holding it,
    # as the user would with "Next ›".
    tomorrow = timezone.localdate() + timedelta(days=1)
    page.goto(f"/oncall/schedules/{schedule.pk}/?view=week&start={tomorrow:%Y-%m-%d}")
    page.evaluate("window.__noNavigation = true")

    page.select_option("#id_user", value=str(responder.pk))
    page.fill("#id_start", f"{tomorrow:%Y-%m-%d}T10:00")
    page.fill("#id_end", f"{tomorrow:%Y-%m-%d}T14:00")
    page.fill("#id_reason", "swap with Ic")
    page.get_by_role("button", name="Add override").click()

    expect(page.locator("#schedule-overrides")).to_contain_text("swap with Ic")
    expect(page.locator("#schedule-calendar")).to_contain_text("override")
    assert page.evaluate("window.__noNavigation") is True
    override = Override.objects.get()
    assert override.user == responder and override.end - override.start == timedelta(hours=4)
