"""The post-incident review's workflow: submit for review, approve (Managers, with an action
item), reopen (Managers, with a reason); through reports.services.pir directly and through
the page's workflow form."""

from datetime import date

import pytest
from django.core.exceptions import PermissionDenied

from reports.models import ActionItem, ActionStatus, PIRChange, PIRState
from reports.services import pir as services
from tests.pages import assert_fragment, html
from tests.reports.factories import finish_sections, resolved_incident
from tests.reports.pir import (
    HX,
    add_item,
    approve,
    as_user,
    fresh,
    in_review,
    url,
    write_root_cause,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def pir(ic):
    return resolved_incident(ic).pir


# --- Submitting for review ----------------------------------------------------------------

def test_submitting_needs_what_and_why(pir, ic):
    services.update_section(pir, section="root_cause", expected_version=pir.version, by=ic,
                            data={"what_happened": ""})

    with pytest.raises(services.PIRError, match="what happened and why it happened"):
        services.submit_for_review(pir, by=ic)

    write_root_cause(pir, ic)
    services.submit_for_review(pir, by=ic)
    saved = fresh(pir)
    assert saved.state == PIRState.IN_REVIEW
    assert saved.submitted_at is not None
    assert saved.changes.first().what == "Sent for review."


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


# --- Approving ----------------------------------------------------------------------------

def test_only_a_manager_approves_and_only_a_review_in_review(pir, ic, manager, responder):
    add_item(pir, ic, responder)
    with pytest.raises(services.PIRError, match="in review"):
        services.approve(pir, by=manager)

    in_review(pir, ic)
    with pytest.raises(PermissionDenied):
        services.approve(pir, by=ic)
    assert fresh(pir).state == PIRState.IN_REVIEW

    services.approve(pir, by=manager)
    saved = fresh(pir)
    assert saved.state == PIRState.APPROVED
    assert (saved.approved_by, saved.changes.first().what) == (manager, "Approved.")


def test_approval_needs_an_action_item(pir, ic, manager):
    in_review(pir, ic)

    with pytest.raises(services.PIRError, match="action item"):
        services.approve(pir, by=manager)
    assert fresh(pir).state == PIRState.IN_REVIEW


def test_an_approved_review_is_read_only_but_its_items_can_be_closed(pir, ic, manager, responder):
    item = add_item(pir, ic, responder)
    in_review(pir, ic)
    services.approve(pir, by=manager)
    approved = fresh(pir)

    assert not services.can_edit(manager, approved)
    with pytest.raises(services.PIRError, match="read-only"):
        services.update_section(approved, section="summary", expected_version=approved.version,
                                by=manager, data={"impact": "Changed after approval."})
    with pytest.raises(services.PIRError, match="read-only"):
        add_item(approved, manager, responder)
    with pytest.raises(services.PIRError):
        services.update_action_item(item, by=manager, action="Rewritten")
    with pytest.raises(services.PIRError):
        services.delete_action_item(item, by=manager)
    with pytest.raises(services.PIRError):
        services.submit_for_review(approved, by=ic)

    services.update_action_item(item, by=responder, status=ActionStatus.DONE)  # the owner
    assert ActionItem.objects.get(pk=item.pk).status == ActionStatus.DONE
    assert fresh(pir).impact == "Some customers could not pay."


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
    finish_sections(pir, ic)
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


def test_approval_is_refused_naming_each_unfinished_section(pir, ic, manager, responder):
    """Issue 17 item 5: the template's placeholders and empty lessons never get approved."""
    add_item(pir, ic, responder)
    services.set_whys(pir, answers=["The deploy had no canary [[owner: fill in]]"],
                      expected_version=fresh(pir).version, by=ic)
    in_review_unfinished = services.submit_for_review(write_root_cause(pir, ic), by=ic)

    with pytest.raises(services.PIRError) as refused:
        services.approve(in_review_unfinished, by=manager)

    message = str(refused.value)
    assert "Lessons learned: What went well? is not written yet" in message
    assert "Lessons learned: What could be improved? is not written yet" in message
    assert "“Add monitoring for [condition]” still holds [condition]" in message
    assert "“Update runbook for [scenario]” still holds [scenario]" in message
    assert "“Implement [safeguard]” still holds [safeguard]" in message
    assert "5 Whys: why 1 still holds [[owner: fill in]]" in message
    assert "Incident summary" not in message  # the impact came from the incident
    assert fresh(pir).state == PIRState.IN_REVIEW

    finish_sections(pir, ic)
    services.set_whys(pir, answers=["The deploy had no canary."],
                      expected_version=fresh(pir).version, by=ic)
    assert services.unfinished_sections(fresh(pir)) == []
    assert services.approve(fresh(pir), by=manager).state == PIRState.APPROVED


@pytest.mark.parametrize("text", ["See [the runbook](https://runbooks.example.org/pay).",
                                  "- [x] canary added\n- [ ] alert tuned",
                                  "`items[0]` was empty."])
def test_links_checkboxes_and_indexes_are_not_placeholders(text):
    assert services.PLACEHOLDER.findall(text) == []


def test_the_approve_button_shows_the_refusal_with_each_section(pir, ic, manager, responder):
    add_item(pir, ic, responder)
    services.submit_for_review(write_root_cause(pir, ic), by=ic)

    response = as_user(manager).post(url(pir, "workflow/"), {"action": "approve"}, **HX)

    assert response.status_code == 400
    assert_fragment(response, "pir-header")
    text = html(response)
    assert "What could be improved? is not written yet" in text
    assert "Implement [safeguard]” still holds [safeguard]" in text
    assert fresh(pir).state == PIRState.IN_REVIEW


# --- Reopening ----------------------------------------------------------------------------

def test_reopening_needs_a_manager_and_a_reason(pir, ic, manager, responder):
    add_item(pir, ic, responder)
    in_review(pir, ic)
    services.approve(pir, by=manager)

    with pytest.raises(PermissionDenied):
        services.reopen(pir, reason="Missed a factor.", by=ic)
    with pytest.raises(services.PIRError, match="Say why"):
        services.reopen(pir, reason="   ", by=manager)
    assert fresh(pir).state == PIRState.APPROVED

    services.reopen(pir, reason="Missed a factor.", by=manager)
    saved = fresh(pir)
    assert (saved.state, saved.approved_by, saved.approved_at) == (PIRState.DRAFT, None, None)
    assert saved.changes.first().what == "Reopened: Missed a factor."
    assert services.can_edit(ic, saved)
    with pytest.raises(services.PIRError, match="already a draft"):
        services.reopen(saved, reason="Again.", by=manager)


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
