"""The post-incident review page through the Django test client: full pages and HTMX
fragments, refusals with their message, stale edits, who sees which buttons."""

import re
from datetime import date, timedelta

import pytest
from django.test import Client

from incidents import services as incident_services
from incidents.models import Severity
from oncall.models import Profile
from reports import services
from reports.models import ActionItem, ActionStatus, PIRChange, PIRState, PostIncidentReview
from tests.pages import assert_fragment, html
from tests.reports.factories import resolved_incident

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}




@pytest.fixture
def pir(ic):
    return resolved_incident(ic).pir


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


def approve(pir, ic, manager, responder):
    services.add_action_item(pir, action="Canary payments", owner=responder,
                             due_date=date.today() + timedelta(days=7), by=ic)
    services.update_section(pir, section="root_cause", expected_version=fresh(pir).version,
                            by=ic, data={"what_happened": "Release 42 broke payments.",
                                         "why_it_happened": "No canary."})
    services.submit_for_review(pir, by=ic)
    return services.approve(pir, by=manager)


# --- The page ------------------------------------------------------------------------------

def test_the_review_page_shows_every_section_with_edit_buttons_for_the_ic(pir, ic):
    response = as_user(ic).get(url(pir))

    assert response.status_code == 200
    text = html(response)
    for dom_id in ("pir-header", "pir-summary", "pir-key-entries", "pir-root-cause", "pir-whys",
                   "pir-factors", "pir-impact", "pir-action-items", "pir-lessons",
                   "pir-prevention", "pir-changes"):
        assert f'id="{dom_id}"' in text
    assert f'href="{url(pir, "sections/root_cause/")}?edit=1"' in text
    assert f'href="/reports/pir/{pir.incident.ref}.pdf"' in text
    assert f'href="/reports/incidents/{pir.incident.ref}/report.md"' in text
    assert "Submit for review" in text
    assert "Approve" not in text  # the IC is no Manager
    assert "Review opened; due" in text  # the audit trail


def test_an_incident_without_a_review_answers_404_with_the_reason(ic):
    incident = incident_services.declare_incident(title="Still burning", severity=Severity.SEV3,
                                                  by=ic)

    response = as_user(ic).get(f"/reports/pir/{incident.ref}/")

    assert response.status_code == 404
    assert "opens when the incident is resolved" in html(response)
    assert as_user(ic).get("/reports/pir/INC-1999-0001/").status_code == 404


def test_markdown_is_rendered_and_sanitised_in_read_mode(pir, ic):
    services.update_section(pir, section="lessons", expected_version=pir.version, by=ic,
                            data={"went_well": "**Fast** rollback <script>alert(1)</script>"})

    text = html(as_user(ic).get(url(pir)))

    assert "<strong>Fast</strong> rollback" in text
    assert "<script>alert(1)</script>" not in text


def test_times_are_shown_in_the_viewers_zone(pir, viewer):
    Profile.objects.update_or_create(user=viewer, defaults={"timezone": "Asia/Tokyo"})

    text = html(as_user(viewer).get(url(pir)))

    assert "JST" in text


def test_an_overdue_review_is_highlighted(pir, ic):
    PostIncidentReview.objects.filter(pk=pir.pk).update(due_at=pir.due_at - timedelta(days=30))

    text = html(as_user(ic).get(url(pir)))

    assert "Overdue" in text and 'class="sla-breached"' in text


def test_page_queries_do_not_grow_with_action_items(pir, ic, responder,
                                                     django_assert_max_num_queries):
    for n in range(15):
        services.add_action_item(pir, action=f"Item {n}", owner=responder,
                                 due_date=date.today() + timedelta(days=n), by=ic)
    client = as_user(ic)
    client.get(url(pir))  # warm the session and the template cache

    with django_assert_max_num_queries(25):
        response = client.get(url(pir))
    assert html(response).count('id="action-item-') == 15


# --- Editing a section ---------------------------------------------------------------------

def test_edit_gives_the_form_fragment_with_the_current_values(pir, ic):
    response = as_user(ic).get(url(pir, "sections/summary/"), {"edit": "1"}, **HX)

    assert response.status_code == 200
    assert_fragment(response, "pir-summary")
    text = html(response)
    assert "Some customers could not pay.</textarea>" in text
    assert f'name="version" value="{pir.version}"' in text


def test_without_javascript_edit_opens_the_form_in_the_whole_page(pir, ic):
    response = as_user(ic).get(url(pir, "sections/whys/"), {"edit": "1"})

    text = html(response)
    assert text.lstrip().lower().startswith("<!doctype html>")
    assert 'name="why_5"' in text


def test_saving_a_section_answers_with_its_read_fragment_and_the_audit_trail(pir, ic):
    response = as_user(ic).post(url(pir, "sections/root_cause/"), {
        "version": pir.version, "what_happened": "Release *42* broke payments.",
        "why_it_happened": "No canary.", "root_cause_category": "deployment",
    }, **HX)

    assert response.status_code == 200
    assert_fragment(response, "pir-root-cause")
    text = html(response)
    assert "Release <em>42</em> broke payments." in text
    assert 'id="pir-changes" class="card pir-changes" hx-swap-oob="true"' in text
    assert "Changed what happened, why it happened, root cause category." in text
    saved = fresh(pir)
    assert (saved.what_happened, saved.root_cause_category) == \
        ("Release *42* broke payments.", "deployment")


def test_a_plain_post_saves_and_redirects_back(pir, ic):
    response = as_user(ic).post(url(pir, "sections/lessons/"), {
        "version": pir.version, "went_well": "Quick rollback.", "could_improve": "Canaries.",
    })

    assert response.status_code == 302
    assert response["Location"] == url(pir) + "#pir-lessons"
    assert fresh(pir).went_well == "Quick rollback."


def test_whys_factors_key_entries_and_prevention_save_through_their_forms(pir, ic):
    entry = incident_services.add_timeline_entry(pir.incident, body="Rolled back.", by=ic)
    client = as_user(ic)

    client.post(url(pir, "sections/whys/"), {"version": fresh(pir).version,
                                             "why_1": "Payments failed", "why_5": "No canary"})
    client.post(url(pir, "sections/factors/"), {"version": fresh(pir).version,
                                                "code_change": "on",
                                                "code_change_note": "Release 42"})
    client.post(url(pir, "sections/key_entries/"), {"version": fresh(pir).version,
                                                    "entries": [entry.pk]})
    client.post(url(pir, "sections/prevention/"), {
        "version": fresh(pir).version,
        "measures": "[x] Canary for payments\r\n\r\n[ ] Alert on 5xx\r\nRunbook for rollbacks"})

    saved = fresh(pir)
    assert [w.answer for w in saved.whys.all()] == ["Payments failed", "", "", "", "No canary"]
    assert [(f.category, f.note) for f in saved.factors.filter(contributed=True)] == \
        [("code_change", "Release 42")]
    assert list(saved.key_entries.all()) == [entry]
    assert [(m.text, m.done) for m in saved.prevention.all()] == [
        ("Canary for payments", True), ("Alert on 5xx", False), ("Runbook for rollbacks", False)]
    page = html(client.get(url(pir, "sections/prevention/"), {"edit": "1"}, **HX))
    assert "[x] Canary for payments\n[ ] Alert on 5xx" in page


def test_invalid_input_is_400_with_errors_beside_the_fields_and_the_text_kept(pir, ic):
    version = pir.version

    response = as_user(ic).post(url(pir, "sections/impact/"), {
        "version": version, "customers_affected": "1200", "revenue_impact": "-5",
        "sla_downtime_minutes": "lots",
    }, **HX)

    assert response.status_code == 400
    assert_fragment(response, "pir-impact")
    text = html(response)
    revenue = field_block(text, "revenue_impact")
    assert "has-error" in revenue and "greater than or equal to 0" in revenue
    assert "has-error" in field_block(text, "sla_downtime_minutes")
    assert 'value="1200"' in field_block(text, "customers_affected")
    assert fresh(pir).version == version
    assert fresh(pir).customers_affected is None


def test_a_stale_save_is_409_keeping_the_text_and_showing_the_saved_one(pir, ic, manager):
    read_version = pir.version
    as_user(manager).post(url(pir, "sections/summary/"),
                          {"version": read_version, "impact": "Manager: 1,200 customers."}, **HX)

    response = as_user(ic).post(url(pir, "sections/summary/"),
                                {"version": read_version, "impact": "IC: most of Europe."}, **HX)

    assert response.status_code == 409
    assert_fragment(response, "pir-summary")
    text = html(response)
    assert "changed this review while you were editing" in text
    assert "IC: most of Europe.</textarea>" in text
    assert "Manager: 1,200 customers." in text  # what is saved now
    assert f'name="version" value="{read_version + 1}"' in text  # saving again is deliberate
    assert fresh(pir).impact == "Manager: 1,200 customers."

    again = as_user(ic).post(url(pir, "sections/summary/"),
                             {"version": read_version + 1, "impact": "IC: most of Europe."}, **HX)
    assert again.status_code == 200
    assert fresh(pir).impact == "IC: most of Europe."


def test_an_unknown_section_is_404(pir, ic):
    assert as_user(ic).get(url(pir, "sections/title/"), {"edit": "1"}).status_code == 404


# --- Who may do what -----------------------------------------------------------------------

def test_a_viewer_reads_the_review_but_cannot_edit_it(pir, viewer):
    client = as_user(viewer)

    page = html(client.get(url(pir)))
    assert "Some customers could not pay." in page
    assert "?edit=1" not in page and "Add an action item" not in page
    assert "Submit for review" not in page

    opened = client.get(url(pir, "sections/summary/"), {"edit": "1"}, **HX)
    assert opened.status_code == 403
    assert_fragment(opened, "pir-summary")
    assert "Incident Commanders and Managers edit its review" in html(opened)

    saved = client.post(url(pir, "sections/summary/"),
                        {"version": pir.version, "impact": "Viewer text."}, **HX)
    assert saved.status_code == 403
    assert "Incident Commanders and Managers edit its review" in html(saved)
    assert "Viewer text.</textarea>" in html(saved)
    assert fresh(pir).impact == "Some customers could not pay."

    added = client.post(url(pir, "action-items/"), {
        "action": "x", "owner": viewer.pk, "due_date": date.today().isoformat(),
        "priority": "P1", "kind": "corrective"}, **HX)
    assert added.status_code == 403
    assert not ActionItem.objects.exists()


def test_an_approved_review_shows_no_edit_buttons_and_refuses_edits(pir, ic, manager, responder):
    approve(pir, ic, manager, responder)
    client = as_user(manager)

    page = html(client.get(url(pir)))
    assert "?edit=1" not in page
    assert "Add an action item" not in page
    assert ">Edit</a>" not in page and ">Delete</button>" not in page
    assert "Reopen as draft" in page

    opened = client.get(url(pir, "sections/summary/"), {"edit": "1"}, **HX)
    assert opened.status_code == 400
    assert "approved and read-only" in html(opened)
    saved = client.post(url(pir, "sections/summary/"),
                        {"version": fresh(pir).version, "impact": "Late change."}, **HX)
    assert saved.status_code == 400
    assert "approved and read-only" in html(saved)
    assert fresh(pir).impact == "Some customers could not pay."


# --- Action items --------------------------------------------------------------------------

def item_data(owner, **overrides):
    data = {"priority": "P0", "kind": "preventative", "action": "Canary payments",
            "owner": owner.pk if owner else "",
            "due_date": (date.today() + timedelta(days=7)).isoformat(), "link": ""}
    data.update(overrides)
    return data


def test_adding_an_action_item_answers_with_the_list(pir, ic, responder):
    response = as_user(ic).post(url(pir, "action-items/"), item_data(responder), **HX)

    assert response.status_code == 200
    assert_fragment(response, "pir-action-items")
    assert "Canary payments" in html(response)
    item = ActionItem.objects.get()
    assert (item.owner, item.priority, item.status) == (responder, "P0", ActionStatus.OPEN)


def test_an_item_due_before_the_incident_is_400_beside_the_due_date(pir, ic, responder):
    early = (pir.incident.started_at.date() - timedelta(days=2)).isoformat()

    response = as_user(ic).post(url(pir, "action-items/"),
                                item_data(responder, due_date=early), **HX)

    assert response.status_code == 400
    assert_fragment(response, "pir-action-items")
    due = field_block(html(response), "due_date")
    assert "cannot be before the incident" in due and f'value="{early}"' in due
    assert "Canary payments</textarea>" in html(response)
    assert not ActionItem.objects.exists()


def test_an_item_without_an_owner_is_400_beside_the_owner(pir, ic):
    response = as_user(ic).post(url(pir, "action-items/"), item_data(None), **HX)

    assert response.status_code == 400
    assert "Every action item needs an owner." in field_block(html(response), "owner")
    assert not ActionItem.objects.exists()


def test_editing_and_deleting_an_action_item(pir, ic, responder, manager):
    item = services.add_action_item(pir, action="Canary payments", owner=responder,
                                    due_date=date.today() + timedelta(days=3), by=ic)
    client = as_user(ic)

    form = client.get(url(pir, f"action-items/{item.pk}/"), **HX)
    assert form.status_code == 200
    assert_fragment(form, "pir-action-items")
    assert "Canary payments</textarea>" in html(form)

    saved = client.post(url(pir, f"action-items/{item.pk}/"),
                        item_data(manager, status="in_progress", action="Canary all payments"),
                        **HX)
    assert saved.status_code == 200
    item.refresh_from_db()
    assert (item.owner, item.status, item.action) == (manager, "in_progress",
                                                      "Canary all payments")

    deleted = client.post(url(pir, f"action-items/{item.pk}/delete/"), **HX)
    assert deleted.status_code == 200
    assert_fragment(deleted, "pir-action-items")
    assert not ActionItem.objects.exists()


def test_the_owner_closes_an_item_after_approval(pir, ic, manager, responder):
    approve(pir, ic, manager, responder)
    item = ActionItem.objects.get()
    client = as_user(responder)
    assert "Set status" in html(client.get(url(pir)))

    response = client.post(url(pir, f"action-items/{item.pk}/"),
                           {"status_only": "1", "status": "done"}, **HX)

    assert response.status_code == 200
    assert ActionItem.objects.get().status == ActionStatus.DONE


def test_someone_else_cannot_change_an_items_status(pir, ic, responder, viewer):
    item = services.add_action_item(pir, action="Canary payments", owner=responder,
                                    due_date=date.today(), by=ic)

    response = as_user(viewer).post(url(pir, f"action-items/{item.pk}/"),
                                    {"status_only": "1", "status": "done"}, **HX)

    assert response.status_code == 403
    assert ActionItem.objects.get().status == ActionStatus.OPEN


# --- Workflow ------------------------------------------------------------------------------

def test_submitting_for_review_answers_with_the_header(pir, ic):
    services.update_section(pir, section="root_cause", expected_version=pir.version, by=ic,
                            data={"what_happened": "Release 42.", "why_it_happened": "No canary."})

    response = as_user(ic).post(url(pir, "workflow/"), {"action": "submit"}, **HX)

    assert response.status_code == 200
    assert_fragment(response, "pir-header")
    assert "In review" in html(response)
    assert fresh(pir).state == PIRState.IN_REVIEW


def test_submitting_an_empty_analysis_is_400_with_the_reason(pir, ic):
    services.update_section(pir, section="root_cause", expected_version=pir.version, by=ic,
                            data={"what_happened": ""})

    response = as_user(ic).post(url(pir, "workflow/"), {"action": "submit"}, **HX)

    assert response.status_code == 400
    assert_fragment(response, "pir-header")
    assert "Fill in what happened and why it happened" in html(response)


def test_approval_by_a_non_manager_is_403(pir, ic, responder):
    services.add_action_item(pir, action="x", owner=responder, due_date=date.today(), by=ic)
    services.update_section(pir, section="root_cause", expected_version=fresh(pir).version,
                            by=ic, data={"why_it_happened": "No canary."})
    services.submit_for_review(pir, by=ic)

    response = as_user(ic).post(url(pir, "workflow/"), {"action": "approve"}, **HX)

    assert response.status_code == 403
    assert_fragment(response, "pir-header")
    assert "Only a Manager approves" in html(response)
    assert fresh(pir).state == PIRState.IN_REVIEW


def test_a_manager_approves_and_the_page_reloads(pir, ic, manager, responder):
    services.add_action_item(pir, action="x", owner=responder, due_date=date.today(), by=ic)
    services.update_section(pir, section="root_cause", expected_version=fresh(pir).version,
                            by=ic, data={"why_it_happened": "No canary."})
    services.submit_for_review(pir, by=ic)
    client = as_user(manager)
    assert "Approve</button>" in html(client.get(url(pir)))

    response = client.post(url(pir, "workflow/"), {"action": "approve"}, **HX)

    assert response.status_code == 200
    assert response["HX-Redirect"] == url(pir)
    assert fresh(pir).state == PIRState.APPROVED


def test_reopening_without_a_reason_is_400_and_with_one_works(pir, ic, manager, responder):
    approve(pir, ic, manager, responder)
    client = as_user(manager)

    refused = client.post(url(pir, "workflow/"), {"action": "reopen", "reason": " "}, **HX)
    assert refused.status_code == 400
    assert "Say why the review is reopened." in html(refused)
    assert fresh(pir).state == PIRState.APPROVED

    reopened = client.post(url(pir, "workflow/"), {"action": "reopen", "reason": "Missed DNS."})
    assert reopened.status_code == 302
    assert fresh(pir).state == PIRState.DRAFT
    assert PIRChange.objects.filter(what="Reopened: Missed DNS.").exists()
