"""Who may do what to an incident (permissions.py), role by role: checked in the services
themselves, and every page action refused to a Viewer with nothing changed."""

import pytest
import time_machine
from django.core.exceptions import PermissionDenied

from incidents import services
from incidents.models import (
    Severity,
    Status,
    TimelineKind,
)
from incidents.services import IncidentError
from oncall.roles import Role
from tests.conftest import make_user
from tests.incidents.factories import declare, note
from tests.incidents.helpers import (
    HX,
    NOW,
    closure_items,
    nothing_declared,
    refused,
    reload,
    settle_closure,
    snapshot,
    triage_item,
    url,
)
from tests.pages import html

pytestmark = pytest.mark.django_db


ACTORS = ("viewer", "outsider", "joined", "ic", "manager", "own_commander")


# Who may do what (permissions.py): commanding needs the IC or Manager role or being
# this incident's commander; editing also lets in Responders who work on it.
COMMAND = {"ic", "manager", "own_commander"}
EDIT = COMMAND | {"joined"}





ACTIONS = {
    "change_status": (COMMAND, lambda inc, entry, by, other: services.change_status(
        inc, to=Status.INVESTIGATING, by=by)),
    "resolve_incident": (COMMAND, lambda inc, entry, by, other: services.resolve_incident(
        inc, resolution="Rolled back.", by=by)),
    "change_severity": (COMMAND, lambda inc, entry, by, other: services.change_severity(
        inc, to=Severity.SEV1, by=by)),
    "assign_role": (COMMAND, lambda inc, entry, by, other: services.assign_role(
        inc, role="technical_lead", user=other, by=by)),
    "waive_checklist_item": (COMMAND, lambda inc, entry, by, other:
                             services.waive_checklist_item(
                                 triage_item(inc), reason="Not needed.", by=by)),
    "add_timeline_entry": (EDIT, lambda inc, entry, by, other: services.add_timeline_entry(
        inc, body="Found it.", by=by)),
    "edit_timeline_entry": (EDIT, lambda inc, entry, by, other: services.edit_timeline_entry(
        entry, body="Second look.", expected_version=1, by=by)),
    "delete_timeline_entry": (EDIT, lambda inc, entry, by, other:
                              services.delete_timeline_entry(entry, expected_version=1, by=by)),
    "set_checklist_item": (EDIT, lambda inc, entry, by, other: services.set_checklist_item(
        triage_item(inc), done=True, by=by)),
}


CASES = [(action, actor) for action in ACTIONS for actor in ACTORS]


# --- in the services --------------------------------------------------------------------


class TestServicePermissions:
    """Each service, called directly; the clock stands still at NOW."""

    @pytest.fixture(autouse=True)
    def clock(self):
        with time_machine.travel(NOW, tick=False) as traveller:
            yield traveller

    @pytest.fixture
    def incident(self, ic):
        return declare(ic, title="Checkout API returning errors", severity=Severity.SEV2)

    @pytest.fixture
    def cast(self, django_user_model, viewer, responder, ic, manager):
        """An incident commanded by a plain Responder, with a second Responder who joined."""
        commander = make_user(django_user_model, "rosa", Role.RESPONDER)
        joined = make_user(django_user_model, "jules", Role.RESPONDER)
        incident = declare(commander, severity=Severity.SEV2)
        services.join_incident(incident, by=joined)
        settle_closure(incident, commander)
        entry = note(incident, commander, body="First look at the logs.")
        actors = {"viewer": viewer, "outsider": responder, "joined": joined, "ic": ic,
                  "manager": manager, "own_commander": commander}
        return reload(incident), entry, actors

    @pytest.mark.parametrize(("action", "actor"), CASES, ids=[f"{a}-{b}" for a, b in CASES])
    def test_service_permission_by_role(self, cast, action, actor):
        incident, entry, actors = cast
        allowed_actors, run = ACTIONS[action]
        by, other = actors[actor], actors["manager"]

        if actor in allowed_actors:
            before = snapshot(incident)
            run(incident, entry, by, other)
            assert snapshot(incident) != before
        else:
            with refused(incident, PermissionDenied):
                run(incident, entry, by, other)

    @pytest.mark.parametrize(
        ("actor", "outcome"),
        [("viewer", PermissionDenied), ("outsider", None), ("joined", IncidentError),
         ("ic", None), ("manager", None), ("own_commander", IncidentError)],
    )
    def test_join_permission_by_role(self, cast, actor, outcome):
        incident, _, actors = cast
        by = actors[actor]

        if outcome is None:
            services.join_incident(incident, by=by)
            assert incident.responders.filter(pk=by.pk).exists()
        else:
            with refused(incident, outcome):
                services.join_incident(incident, by=by)

    @pytest.mark.parametrize(("actor", "allowed"), [("viewer", False), ("outsider", True),
                                                    ("ic", True), ("manager", True)])
    def test_declare_permission_by_role(self, cast, actor, allowed):
        by = cast[2][actor]

        if allowed:
            assert declare(by).declared_by == by
        else:
            with nothing_declared(PermissionDenied):
                declare(by)

    def test_technical_lead_responder_may_edit_but_not_command(self, incident, ic, responder):
        incident = services.assign_role(incident, role="technical_lead", user=responder, by=ic)

        note(incident, responder, body="Found the bad query.")
        with refused(incident, PermissionDenied):
            services.change_status(incident, to=Status.INVESTIGATING, by=responder)


# --- through the page ------------------------------------------------------------------


def _viewer_requests(incident):
    entry = incident.timeline.get(kind=TimelineKind.NOTE)
    item = closure_items(incident)[0]
    return {
        "transition": (url(incident, "status/"), {"to": "investigating"}),
        "severity": (url(incident, "severity/"), {"to": "1"}),
        "role": (url(incident, "roles/"), {"role": "commander",
                                           "user": incident.commander_id}),
        "join": (url(incident, "join/"), {}),
        "resolve": (url(incident, "resolve/"), {"resolution": "Fixed"}),
        "timeline-add": (url(incident, "timeline/"), {"body": "viewer was here",
                                                      "kind": "note"}),
        "entry-edit": (url(incident, f"timeline/{entry.pk}/edit/"),
                       {"body": "viewer edit", "kind": "note", "version": entry.version}),
        "entry-delete": (url(incident, f"timeline/{entry.pk}/delete/"),
                         {"version": entry.version}),
        "checklist-tick": (url(incident, f"checklist/{item.pk}/"), {"done": "on"}),
        "checklist-waive": (url(incident, f"checklist/{item.pk}/waive/"),
                            {"reason": "viewer says so"}),
    }


VIEWER_ACTIONS = ["transition", "severity", "role", "join", "resolve", "timeline-add",
                  "entry-edit", "entry-delete", "checklist-tick", "checklist-waive"]


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "plain"])
@pytest.mark.parametrize("action", VIEWER_ACTIONS)
def test_viewer_post_is_403_and_changes_nothing(client, viewer, incident, action, htmx):
    client.force_login(viewer)
    path, data = _viewer_requests(incident)[action]
    before = snapshot(incident)
    response = client.post(path, data, **(HX if htmx else {}))
    assert response.status_code == 403
    assert snapshot(incident) == before
    if htmx:
        assert "<html" not in html(response)


def test_responder_not_on_incident_cannot_change_status(client, responder, incident):
    client.force_login(responder)
    before = snapshot(incident)
    response = client.post(url(incident, "status/"), {"to": "investigating"}, **HX)
    assert response.status_code == 403
    assert snapshot(incident) == before
