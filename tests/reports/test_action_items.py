"""A post-incident review's action items: owner and due date required, added, changed and
removed with an audit, closed by their owner even after approval; through
reports.services.pir directly and through the page's action-item list."""

from datetime import date, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from reports.models import ActionItem, ActionStatus
from reports.services import pir as services
from tests.pages import assert_fragment, html
from tests.reports.factories import resolved_incident
from tests.reports.pir import HX, add_item, approve, as_user, field_block, fresh, in_review, url

pytestmark = pytest.mark.django_db


@pytest.fixture
def pir(ic):
    return resolved_incident(ic).pir


def item_data(owner, **overrides):
    data = {"priority": "P0", "kind": "preventative", "action": "Canary payments",
            "owner": owner.pk if owner else "",
            "due_date": (date.today() + timedelta(days=7)).isoformat(), "link": ""}
    data.update(overrides)
    return data


# --- Adding -------------------------------------------------------------------------------

def test_an_action_item_due_before_the_incident_is_refused(pir, ic, responder):
    before = pir.incident.started_at.date() - timedelta(days=1)
    version = fresh(pir).version

    with pytest.raises(ValidationError) as refused:
        services.add_action_item(pir, action="Too late", owner=responder, due_date=before, by=ic)

    assert "due_date" in refused.value.message_dict
    assert not ActionItem.objects.exists()
    assert fresh(pir).version == version


def test_an_action_item_needs_an_active_owner(pir, ic, responder):
    with pytest.raises(ValidationError) as refused:
        services.add_action_item(pir, action="Nobody's", owner=None,
                                 due_date=date.today(), by=ic)
    assert "owner" in refused.value.message_dict

    responder.is_active = False
    responder.save()
    with pytest.raises(ValidationError):
        add_item(pir, ic, responder)
    assert not ActionItem.objects.exists()


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


# --- Changing and removing ----------------------------------------------------------------

def test_action_items_are_added_changed_and_removed_with_an_audit(pir, ic, responder, manager):
    item = add_item(pir, ic, responder, priority="P0", link="https://tickets.example/42")
    services.update_action_item(item, by=ic, owner=manager, status=ActionStatus.IN_PROGRESS)
    item.refresh_from_db()
    assert (item.owner, item.status, item.priority) == (manager, ActionStatus.IN_PROGRESS, "P0")

    services.delete_action_item(item, by=ic)

    assert not ActionItem.objects.exists()
    trail = list(pir.changes.values_list("what", flat=True))
    assert trail[0].startswith("Removed action item")
    assert trail[1].startswith("Updated action item") and "owner, status" in trail[1]
    assert trail[2].startswith("Added action item P0")


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


# --- Status, also after approval ----------------------------------------------------------

def test_only_the_owner_or_the_incidents_people_change_an_items_status(pir, ic, responder,
                                                                        viewer):
    item = add_item(pir, ic, responder)

    with pytest.raises(PermissionDenied):
        services.update_action_item(item, by=viewer, status=ActionStatus.DONE)
    services.update_action_item(item, by=responder, status=ActionStatus.DONE)
    assert ActionItem.objects.get(pk=item.pk).status == ActionStatus.DONE


def test_an_item_whose_owner_left_can_still_be_closed(pir, ic, manager, responder):
    item = add_item(pir, ic, responder)
    in_review(pir, ic)
    services.approve(pir, by=manager)
    responder.is_active = False
    responder.save()

    services.update_action_item(item, by=manager, status=ActionStatus.DONE)

    assert ActionItem.objects.get(pk=item.pk).status == ActionStatus.DONE


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
