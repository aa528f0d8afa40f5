"""Problem reports (handbook §3.1): anyone logged in reports a problem; Incident
Commanders and Managers triage it: declare an incident from it, or dismiss it with a
reason. Each verb runs in one transaction and checks permission and state first: a
refusal raises and changes nothing; a report already decided is refused by name."""

import functools

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from mindweave_ir.inputs import SOON, OutOfRange, ahead, check_time
from mindweave_ir.templatetags.mw import display_name

from .. import permissions
from ..models import ManualReport, ReportState
from .common import IncidentError, require
from .incidents import declare_incident
from .timeline import note_alert


class TriageError(IncidentError):
    """A triage request the rules refuse (report already decided, no reason ...).

    An IncidentError, so the declare wizard shows it like its own refusals."""


@transaction.atomic
def submit_report(*, what, who_affected, since, by, service=None):
    """File a manual report for triage. Any logged-in user may."""
    if not by.is_authenticated:
        raise PermissionDenied("Log in to report a problem.")
    what, who_affected = (what or "").strip(), (who_affected or "").strip()
    if not what or not who_affected or since is None:
        raise TriageError("Say what is broken, who is affected and since when.")
    if since > timezone.now():
        raise TriageError("'Since when' cannot be in the future.")
    try:
        check_time(since, latest=ahead(SOON))
    except OutOfRange as exc:
        raise TriageError(str(exc)) from None
    return ManualReport.objects.create(reporter=by, what=what, who_affected=who_affected,
                                       since=since, service=service)


display = functools.partial(display_name, missing="someone")


def _locked_open(report):
    report = ManualReport.objects.select_for_update().get(pk=report.pk)
    if not report.is_open:
        raise TriageError(f"Report #{report.pk} was already "
                          f"{report.get_state_display().lower()} by {display(report.decided_by)}; "
                          "nothing changed.")
    return report


@transaction.atomic
def dismiss_report(report, *, reason, by):
    """Close a report without an incident; the reason is required and kept."""
    require(permissions.can_triage(by),
            "Only Incident Commanders and Managers may triage reports.")
    reason = (reason or "").strip()
    if not reason:
        raise TriageError("Say why the report is dismissed.")
    report = _locked_open(report)
    report.state, report.reason = ReportState.DISMISSED, reason
    report.decided_by, report.decided_at = by, timezone.now()
    report.save(update_fields=["state", "reason", "decided_by", "decided_at"])
    return report


@transaction.atomic
def mark_declared(report, *, incident, by):
    """Link the incident just declared from `report` (call in the declare's transaction,
    so a refusal here undoes the declare too) and note the report on its timeline."""
    require(permissions.can_triage(by),
            "Only Incident Commanders and Managers may triage reports.")
    report = _locked_open(report)
    report.state, report.incident = ReportState.DECLARED, incident
    report.decided_by, report.decided_at = by, timezone.now()
    report.save(update_fields=["state", "incident", "decided_by", "decided_at"])
    note_alert(incident, body=f"Declared from manual report #{report.pk} by "
                                       f"{display(report.reporter)}: "
                                       f"**{report.what}**. Affected: {report.who_affected}")
    return report


@transaction.atomic
def declare_from_report(report, *, by, **details):
    """Declare an incident from `report` (`details` as for declare_incident) and mark the
    report declared, in one transaction: a report decided meanwhile undoes the declare."""
    incident = declare_incident(by=by, **details)
    mark_declared(report, incident=incident, by=by)
    return incident
