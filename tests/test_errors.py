"""mindweave_ir.errors: every app's refusals share two bases, so the API and the views
answer them without importing the app that refused."""

import pytest
from django.core.exceptions import PermissionDenied

from incidents.heartbeats import HeartbeatError
from incidents.ingest import IntegrationError
from incidents.services import ConflictError, IncidentError
from mindweave_ir.errors import Conflict, Refused, refusal
from oncall.paging import PagingError
from reports.services import PIRError, StaleEdit
from reports.services.handoffs import HandoffError, StaleHandoff


@pytest.mark.parametrize("error", [IncidentError, HeartbeatError, IntegrationError,
                                   PagingError, PIRError, HandoffError])
def test_each_apps_refusal_is_a_refused(error):
    assert issubclass(error, Refused) and not issubclass(error, Conflict)
    assert refusal(error("No.")) == (400, "No.")


@pytest.mark.parametrize("error", [ConflictError, StaleEdit, StaleHandoff])
def test_each_apps_conflict_is_a_conflict_and_keeps_the_current_object(error):
    exc = error("Changed meanwhile.", "current")
    assert isinstance(exc, Conflict) and exc.current == "current"
    assert refusal(exc) == (409, "Changed meanwhile.")


def test_conflict_error_is_still_an_incident_error():
    assert issubclass(ConflictError, IncidentError)


def test_permission_denied_is_403_with_a_default_message():
    assert refusal(PermissionDenied("Viewers read.")) == (403, "Viewers read.")
    assert refusal(PermissionDenied()) == (403, "You may not do that.")
