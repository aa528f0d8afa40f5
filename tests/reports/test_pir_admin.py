"""Post-incident reviews in the managers' admin: editing through services, the workflow
buttons and actions, stale-edit refusal, read-only approval, access and query counts."""

import io
import re
import zipfile
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django import forms
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from oncall.roles import Role
from reports.models import ActionItem, ActionStatus, PIRChange, PIRState, PostIncidentReview
from reports.services import pir as services
from tests.conftest import make_user
from tests.pages import html
from tests.reports.factories import finish_sections, ready_for_review, resolved_pir

CHANGELIST = "/admin/reports/postincidentreview/"
ACTION_ITEMS = "/admin/reports/actionitem/"


def change_url(pir):
    return f"{CHANGELIST}{pir.pk}/change/"


def form_data(response):
    """What the browser posts back: the change form and its inlines, as rendered."""
    data = {}

    def add(form):
        for name, field in form.fields.items():
            value, key = form[name].value(), form.add_prefix(name)
            if isinstance(field, forms.BooleanField):
                if value:
                    data[key] = "on"
            elif value is None:
                data[key] = ""
            elif isinstance(value, list | tuple):
                data[key] = [str(v) for v in value]
            else:
                data[key] = str(value)

    add(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        add(inline.formset.management_form)
        for form in inline.formset.initial_forms:
            add(form)
    return data


def messages_of(response):
    return [str(m) for m in response.context["messages"]]


@pytest.fixture
def pir(ic):
    return resolved_pir(ic)


@pytest.fixture
def staff_ic(django_user_model):
    return make_user(django_user_model, "staff-ic", Role.INCIDENT_COMMANDER, is_staff=True)


# --- the workflow --------------------------------------------------------------------------

def test_manager_drives_a_review_from_draft_to_approved_in_the_admin(client, manager, ic, pir):
    pir = finish_sections(pir, ic)
    client.force_login(manager)
    page = client.get(change_url(pir))
    assert page.status_code == 200
    assert "Send for review" in html(page)
    data = form_data(page)
    data["why_it_happened"] = "A config flag shipped on by default."
    data.update({"action_items-TOTAL_FORMS": "1", "action_items-0-priority": "P0",
                 "action_items-0-kind": "preventative",
                 "action_items-0-action": "Add a canary for config flags",
                 "action_items-0-owner": str(ic.pk),
                 "action_items-0-due_date": f"{timezone.localdate() + timedelta(days=7)}",
                 "action_items-0-status": "open", "action_items-0-link": ""})
    assert client.post(change_url(pir), data).status_code == 302

    response = client.post(CHANGELIST, {"action": "send_for_review",
                                        "_selected_action": [pir.pk]}, follow=True)
    assert f"Sent for review: {pir.incident.ref}." in messages_of(response)
    assert PostIncidentReview.objects.get(pk=pir.pk).state == PIRState.IN_REVIEW

    response = client.post(f"{CHANGELIST}{pir.pk}/approve/", follow=True)
    assert f"The review of {pir.incident.ref} was approved." in messages_of(response)
    pir.refresh_from_db()
    assert pir.state == PIRState.APPROVED
    assert pir.approved_by == manager
    item = pir.action_items.get()
    assert (item.owner, item.priority, item.kind) == (ic, "P0", "preventative")
    trail = list(pir.changes.filter(by=manager).values_list("what", flat=True))
    assert trail[:2] == ["Approved.", "Sent for review."]
    assert "Changed why it happened." in trail
    assert any(what.startswith("Added action item P0") for what in trail)


def test_change_form_buttons_send_for_review(client, manager, ic, pir):
    pir = ready_for_review(pir, ic, ic)
    client.force_login(manager)
    response = client.post(f"{CHANGELIST}{pir.pk}/submit/", follow=True)
    assert f"The review of {pir.incident.ref} was sent for review." in messages_of(response)
    assert PostIncidentReview.objects.get(pk=pir.pk).state == PIRState.IN_REVIEW
    assert 'name="_pir_workflow" value="approve"' in html(response)


def test_send_for_review_saves_what_was_typed_first(client, manager, pir):
    client.force_login(manager)
    data = form_data(client.get(change_url(pir)))
    assert not data["why_it_happened"]
    data |= {"why_it_happened": "A config flag shipped on by default.",
             "root_cause_category": "configuration", "_pir_workflow": "submit"}
    response = client.post(change_url(pir), data, follow=True)
    assert f"The review of {pir.incident.ref} was saved and sent for review." \
        in messages_of(response)
    pir.refresh_from_db()
    assert pir.state == PIRState.IN_REVIEW
    assert (pir.why_it_happened, pir.root_cause_category) == (
        "A config flag shipped on by default.", "configuration")
    assert response.redirect_chain[-1][0] == change_url(pir)


def test_a_refused_transition_keeps_the_saved_edits_and_says_why(client, manager, pir):
    client.force_login(manager)
    data = form_data(client.get(change_url(pir)))
    data |= {"what_happened": "", "why_it_happened": "A config flag shipped on by default.",
             "_pir_workflow": "submit"}
    response = client.post(change_url(pir), data, follow=True)
    assert (f"{pir.incident.ref}: Your changes were saved, but it was not sent for review: "
            "Fill in what happened before sending it for review.") in messages_of(response)
    pir.refresh_from_db()
    assert pir.state == PIRState.DRAFT
    assert pir.why_it_happened == "A config flag shipped on by default."


def test_an_invalid_form_runs_no_transition_and_keeps_every_edit(client, manager, pir):
    client.force_login(manager)
    data = form_data(client.get(change_url(pir)))
    data |= {"why_it_happened": "Typed but not saved yet.", "customers_affected": "lots",
             "_pir_workflow": "submit"}
    response = client.post(change_url(pir), data)
    assert response.status_code == 200
    assert "Typed but not saved yet." in html(response)
    pir.refresh_from_db()
    assert pir.state == PIRState.DRAFT and pir.why_it_happened == ""


def test_reopen_from_the_change_form_saves_then_reopens(client, manager, ic, pir):
    pir = ready_for_review(pir, ic, ic)
    services.submit_for_review(pir, by=ic)
    client.force_login(manager)
    data = form_data(client.get(change_url(pir)))
    data |= {"went_well": "Fast rollback.", "_pir_workflow": "reopen",
             "reason": "Needs the timeline."}
    client.post(change_url(pir), data)
    pir.refresh_from_db()
    assert pir.state == PIRState.DRAFT and pir.went_well == "Fast rollback."
    assert pir.changes.first().what == "Reopened: Needs the timeline."


def test_workflow_urls_refuse_get(client, manager, pir):
    client.force_login(manager)
    assert client.get(f"{CHANGELIST}{pir.pk}/approve/").status_code == 405


def test_approve_action_reports_successes_and_refusals(client, manager, ic):
    ready = ready_for_review(resolved_pir(ic, title="Ready one"), ic, ic)
    services.submit_for_review(ready, by=ic)
    draft = resolved_pir(ic, title="Still a draft")
    client.force_login(manager)
    response = client.post(CHANGELIST, {"action": "approve_selected",
                                        "_selected_action": [ready.pk, draft.pk]}, follow=True)
    shown = messages_of(response)
    assert f"Approved: {ready.incident.ref}." in shown
    assert f"{draft.incident.ref}: Only a review that is in review can be approved." in shown
    assert PostIncidentReview.objects.get(pk=ready.pk).state == PIRState.APPROVED
    assert PostIncidentReview.objects.get(pk=draft.pk).state == PIRState.DRAFT


def test_admin_approval_names_each_unfinished_section(client, manager, ic, pir):
    """Issue 17 item 5, in the admin: the change-form button and the changelist action."""
    pir = services.update_section(pir, section="root_cause", expected_version=pir.version,
                                  by=ic, data={"why_it_happened": "A flag shipped on."})
    services.add_action_item(pir, action="Add a canary for config flags", owner=ic,
                             due_date=timezone.localdate() + timedelta(days=7), by=ic)
    services.submit_for_review(pir, by=ic)
    client.force_login(manager)

    button = messages_of(client.post(f"{CHANGELIST}{pir.pk}/approve/", follow=True))
    action = messages_of(client.post(CHANGELIST, {"action": "approve_selected",
                                                  "_selected_action": [pir.pk]}, follow=True))

    for shown in (button, action):
        refusal = next(m for m in shown if m.startswith(f"{pir.incident.ref}: Not approved"))
        assert "Lessons learned: What went well? is not written yet" in refusal
        assert "Lessons learned: What could be improved? is not written yet" in refusal
        assert "“Add monitoring for [condition]” still holds [condition]" in refusal
        assert "“Implement [safeguard]” still holds [safeguard]" in refusal
    assert PostIncidentReview.objects.get(pk=pir.pk).state == PIRState.IN_REVIEW


def test_reopen_needs_a_reason(client, manager, ic, pir):
    pir = ready_for_review(pir, ic, ic)
    services.submit_for_review(pir, by=ic)
    services.approve(pir, by=manager)
    client.force_login(manager)
    url = f"{CHANGELIST}{pir.pk}/reopen/"

    response = client.post(url, {"reason": "  "}, follow=True)
    assert f"{pir.incident.ref}: Say why the review is reopened." in messages_of(response)
    assert PostIncidentReview.objects.get(pk=pir.pk).state == PIRState.APPROVED

    client.post(url, {"reason": "The root cause was wrong."})
    pir.refresh_from_db()
    assert pir.state == PIRState.DRAFT
    assert pir.approved_by is None
    assert pir.changes.first().what == "Reopened: The root cause was wrong."


# --- editing through the services ----------------------------------------------------------

def test_editing_sections_writes_one_audit_row_per_section_and_bumps_the_version(
        client, manager, pir):
    client.force_login(manager)
    data = form_data(client.get(change_url(pir)))
    data.update(impact="Checkout failed for 12% of customers.", went_well="Fast rollback.",
                customers_affected="1200")
    assert client.post(change_url(pir), data).status_code == 302

    after = PostIncidentReview.objects.get(pk=pir.pk)
    assert after.impact == "Checkout failed for 12% of customers."
    assert after.went_well == "Fast rollback."
    assert after.customers_affected == 1200
    assert after.version == pir.version + 3  # summary, impact, lessons
    assert set(after.changes.filter(by=manager).values_list("what", flat=True)) == {
        "Changed impact.", "Changed customers affected.", "Changed went well."}


def test_inlines_save_through_their_services(client, manager, ic, pir):
    item = services.add_action_item(pir, action="Old wording", owner=ic,
                                    due_date=timezone.localdate(), by=ic)
    client.force_login(manager)
    data = form_data(client.get(change_url(pir)))
    data["whys-0-answer"] = "The deploy failed."
    data["factors-0-contributed"] = "on"
    data["action_items-0-action"] = "New wording"
    data["prevention-0-DELETE"] = "on"
    assert client.post(change_url(pir), data).status_code == 302

    pir.refresh_from_db()
    assert pir.whys.get(position=1).answer == "The deploy failed."
    assert pir.factors.get(category="code_change").contributed
    assert ActionItem.objects.get(pk=item.pk).action == "New wording"
    assert pir.prevention.count() == 2
    trail = set(pir.changes.filter(by=manager).values_list("what", flat=True))
    assert {"Changed the 5 whys.", "Changed the contributing factors.",
            "Changed the prevention measures.",
            "Updated action item “New wording”: action."} <= trail


def test_every_inline_input_is_named_by_its_row_and_column(client, manager, ic, pir):
    """Tabular inlines have column headers, not labels: axe-core's 'label' rule."""
    for action in ("Add a canary", "Alert on errors"):
        services.add_action_item(pir, action=action, owner=ic, due_date=timezone.localdate(),
                                 by=ic)
    client.force_login(manager)
    client.get(change_url(pir))  # a second render must not inherit the first's names
    text = html(client.get(change_url(pir)))

    for name, label in [("whys-2-answer", "Why 3: Answer"),
                        ("factors-0-note", "Contributing factor 1: Note"),
                        ("prevention-1-DELETE", "Prevention measure 2: Delete"),
                        ("action_items-0-owner", "Action item 1: Owner"),
                        ("action_items-1-owner", "Action item 2: Owner"),
                        ("action_items-1-link", "Action item 2: Link")]:
        assert re.search(rf'<[^>]*name="{name}"[^>]*aria-label="{label}"|'
                         rf'<[^>]*aria-label="{label}"[^>]*name="{name}"', text), name


def test_inline_action_item_due_before_the_incident_is_shown_beside_the_field(
        client, manager, ic, pir):
    client.force_login(manager)
    data = form_data(client.get(change_url(pir)))
    data.update({"action_items-TOTAL_FORMS": "1", "action_items-0-priority": "P1",
                 "action_items-0-kind": "corrective", "action_items-0-action": "Fix it",
                 "action_items-0-owner": str(ic.pk),
                 "action_items-0-due_date": f"{timezone.localdate() - timedelta(days=30)}",
                 "action_items-0-status": "open", "action_items-0-link": ""})
    response = client.post(change_url(pir), data)
    assert response.status_code == 200
    formset = next(i.formset for i in response.context["inline_admin_formsets"]
                   if i.formset.model is ActionItem)
    assert formset.forms[0].errors["due_date"] == ["The due date cannot be before the incident."]
    assert not pir.action_items.exists()


def test_stale_edit_is_refused_with_who_and_nothing_is_overwritten(client, manager, ic, pir):
    client.force_login(manager)
    data = form_data(client.get(change_url(pir)))
    services.update_section(pir, section="summary", data={"impact": "Written by the IC."},
                            expected_version=pir.version, by=ic)
    data["impact"] = "Written by the manager."

    response = client.post(change_url(pir), data)
    assert response.status_code == 200
    errors = " ".join(response.context["adminform"].form.non_field_errors())
    assert "Ic (" in errors and "saved this review after you opened it" in errors
    assert "Impact" in errors
    assert "Written by the manager." in html(response)  # the manager's input is kept
    after = PostIncidentReview.objects.get(pk=pir.pk)
    assert after.impact == "Written by the IC."
    assert after.version == pir.version + 1
    assert not after.changes.filter(by=manager).exists()

    # Posting the same stale form again is still refused.
    assert client.post(change_url(pir), data).status_code == 200
    assert PostIncidentReview.objects.get(pk=pir.pk).impact == "Written by the IC."


def test_approved_review_is_read_only(client, manager, ic, pir):
    pir = ready_for_review(pir, ic, ic)
    services.submit_for_review(pir, by=ic)
    pir = services.approve(pir, by=manager)
    client.force_login(manager)
    page = client.get(change_url(pir))
    assert page.status_code == 200
    assert 'name="_save"' not in html(page)
    assert 'value="Reopen"' in html(page)

    data = form_data(page)
    data["impact"] = "Changed after approval."
    assert client.post(change_url(pir), data).status_code == 403
    after = PostIncidentReview.objects.get(pk=pir.pk)
    assert after.impact == pir.impact
    assert after.version == pir.version


# --- access --------------------------------------------------------------------------------

def test_staff_without_the_manager_role_gets_403(client, staff_ic, pir):
    client.force_login(staff_ic)
    for url in (CHANGELIST, change_url(pir), ACTION_ITEMS, "/admin/reports/pirchange/"):
        assert client.get(url).status_code == 403
    assert client.post(f"{CHANGELIST}{pir.pk}/submit/").status_code == 403
    assert PostIncidentReview.objects.get(pk=pir.pk).state == PIRState.DRAFT


def test_reviews_are_not_added_or_deleted_in_the_admin(client, manager, pir):
    client.force_login(manager)
    assert client.get(f"{CHANGELIST}add/").status_code == 403
    assert client.post(f"{CHANGELIST}{pir.pk}/delete/", {"post": "yes"}).status_code == 403
    assert client.get(f"{ACTION_ITEMS}add/").status_code == 403


# --- the changelists -----------------------------------------------------------------------

def test_review_changelist_marks_and_filters_overdue_reviews(client, manager, ic):
    monday = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
    with time_machine.travel(monday, tick=False):
        late = resolved_pir(ic, title="Resolved on Monday")  # due Monday 10th, 09:00
    with time_machine.travel(monday + timedelta(days=1), tick=False):
        soon = resolved_pir(ic, title="Resolved on Tuesday")  # due Tuesday 11th, 09:00
    with time_machine.travel(monday + timedelta(days=7, minutes=30), tick=False):
        client.force_login(manager)  # sessions last 12 hours
        overdue_page = client.get(CHANGELIST, {"due": "overdue"})
        soon_page = client.get(CHANGELIST, {"due": "due_soon"})
        on_time_page = client.get(CHANGELIST, {"due": "on_time"})
    assert list(overdue_page.context["cl"].result_list) == [late]
    assert "overdue</strong>" in html(overdue_page)
    assert list(soon_page.context["cl"].result_list) == [soon]
    assert list(on_time_page.context["cl"].result_list) == []


def test_action_item_changelist_filters_overdue_items(client, manager, ic):
    pir = resolved_pir(ic, started=timezone.now() - timedelta(days=30))
    today = timezone.localdate()
    late = services.add_action_item(pir, action="Late one", owner=ic,
                                    due_date=today - timedelta(days=3), by=ic)
    done = services.add_action_item(pir, action="Late but done", owner=ic,
                                    due_date=today - timedelta(days=3), by=ic)
    services.update_action_item(done, status=ActionStatus.DONE, by=ic)
    soon = services.add_action_item(pir, action="Due soon", owner=ic,
                                    due_date=today + timedelta(days=2), by=ic)
    client.force_login(manager)
    assert list(client.get(ACTION_ITEMS, {"due": "overdue"}).context["cl"].result_list) \
        == [late]
    assert list(client.get(ACTION_ITEMS, {"due": "due_soon"}).context["cl"].result_list) \
        == [soon]
    assert client.get(ACTION_ITEMS, {"owner__id__exact": ic.pk}).context["cl"].result_count \
        == 3


def test_action_item_admin_edits_through_the_service(client, manager, ic, pir):
    item = services.add_action_item(pir, action="Add alerting", owner=ic,
                                    due_date=timezone.localdate(), by=ic)
    client.force_login(manager)
    url = f"{ACTION_ITEMS}{item.pk}/change/"
    data = form_data(client.get(url))
    data["status"] = ActionStatus.IN_PROGRESS
    assert client.post(url, data).status_code == 302
    assert ActionItem.objects.get(pk=item.pk).status == ActionStatus.IN_PROGRESS
    assert PIRChange.objects.filter(
        pir=pir, by=manager, what="Updated action item “Add alerting”: status.").exists()


def test_after_approval_only_an_action_items_status_changes(client, manager, ic, pir):
    pir = ready_for_review(pir, ic, ic)
    services.submit_for_review(pir, by=ic)
    services.approve(pir, by=manager)
    item = pir.action_items.get()
    client.force_login(manager)
    url = f"{ACTION_ITEMS}{item.pk}/change/"
    page = client.get(url)
    assert list(page.context["adminform"].form.fields) == ["status"]
    client.post(url, {**form_data(page), "status": ActionStatus.DONE,
                      "action": "Sneaky rewording"})
    item.refresh_from_db()
    assert item.status == ActionStatus.DONE
    assert item.action == "Add a canary for config flags"


# --- query counts --------------------------------------------------------------------------

def _queries(client, url):
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def _more_reviews(ic, count, start):
    for n in range(start, start + count):
        pir = resolved_pir(ic, title=f"Incident number {n}")
        services.add_action_item(pir, action=f"Follow-up {n}", owner=ic,
                                 due_date=timezone.localdate(), by=ic)


@pytest.mark.parametrize("url", [CHANGELIST, ACTION_ITEMS, "/admin/reports/pirchange/"])
def test_changelist_queries_do_not_grow_with_rows(client, manager, ic, url,
                                                  django_assert_max_num_queries):
    _more_reviews(ic, 3, 0)
    client.force_login(manager)
    client.get(url)  # warm per-process caches (content types, sessions)
    few = _queries(client, url)
    _more_reviews(ic, 17, 3)
    with django_assert_max_num_queries(few):
        assert client.get(url).status_code == 200


def test_change_form_queries_do_not_grow_with_action_items(client, manager, ic, pir):
    def add_items(count):
        for n in range(count):
            services.add_action_item(pir, action=f"Item {n}", owner=ic,
                                     due_date=timezone.localdate(), by=ic)

    add_items(2)
    client.force_login(manager)
    client.get(change_url(pir))
    few = _queries(client, change_url(pir))
    add_items(15)
    assert _queries(client, change_url(pir)) <= few


# --- exports and reminders -----------------------------------------------------------------

@pytest.mark.pdf
def test_export_pdf_action_downloads_one_pdf_or_a_zip(client, manager, ic, pir):
    other = resolved_pir(ic, title="Second incident")
    client.force_login(manager)
    one = client.post(CHANGELIST, {"action": "export_pdf", "_selected_action": [pir.pk]})
    assert one["Content-Type"] == "application/pdf"
    assert one["Content-Disposition"] == f'attachment; filename="{pir.incident.ref}-pir.pdf"'
    assert one.content.startswith(b"%PDF")

    both = client.post(CHANGELIST, {"action": "export_pdf",
                                    "_selected_action": [pir.pk, other.pk]})
    assert both["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(both.content)) as archive:
        assert sorted(archive.namelist()) == sorted(
            [f"{pir.incident.ref}-pir.pdf", f"{other.incident.ref}-pir.pdf"])
        assert archive.read(f"{other.incident.ref}-pir.pdf").startswith(b"%PDF")


def test_send_reminder_action_emails_the_commander_and_audits_it(client, manager, ic, pir):
    ic.email = "ic@example.com"
    ic.save(update_fields=["email"])
    client.force_login(manager)
    response = client.post(CHANGELIST, {"action": "send_reminder",
                                        "_selected_action": [pir.pk]}, follow=True)
    assert f"Reminded: {pir.incident.ref}." in messages_of(response)
    assert [m.to for m in mail.outbox] == [["ic@example.com"]]
    assert pir.changes.filter(by=manager, what="Reminder sent to Ic.").exists()


def test_send_reminder_action_says_when_nobody_can_be_reminded(client, manager, pir):
    client.force_login(manager)
    response = client.post(CHANGELIST, {"action": "send_reminder",
                                        "_selected_action": [pir.pk]}, follow=True)
    assert any("to remind" in text for text in messages_of(response))
    assert not mail.outbox
