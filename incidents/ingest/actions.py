"""Writes around ingestion that people make: silences and manual reports (§3.1).

Each runs in one transaction and checks permission and state first: a refusal raises
and changes nothing. Incident Commanders and Managers manage silences and triage
reports; anyone logged in may file a report.
"""

import functools

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from mindweave_ir.templatetags.mw import display_name
from oncall.roles import Role, has_role

from .. import services
from ..models import ManualReport, ReportState, Silence


class TriageError(services.IncidentError):
    """A triage request the rules refuse (report already decided, no reason ...).

    An IncidentError, so the declare wizard shows it like its own refusals."""


def can_manage(user):
    """Who manages silences and triages manual reports."""
    return user.is_authenticated and has_role(user, Role.INCIDENT_COMMANDER, Role.MANAGER)


def _require_manager(user, what):
    if not can_manage(user):
        raise PermissionDenied(f"Only Incident Commanders and Managers may {what}.")


# --- silences -------------------------------------------------------------------------

@transaction.atomic
def create_silence(*, matchers, ends_at, comment, by, starts_at=None, integration=None):
    """A maintenance window from `starts_at` (default now) to `ends_at`.

    Raises ValidationError (matchers, times, comment) and saves nothing if any is bad.
    """
    _require_manager(by, "create silences")
    now = timezone.now()
    silence = Silence(matchers=matchers, integration=integration, starts_at=starts_at or now,
                      ends_at=ends_at, comment=(comment or "").strip(), created_by=by,
                      created_at=now)
    silence.full_clean()
    if silence.ends_at <= now:
        raise ValidationError({"ends_at": "The silence would already be over."})
    silence.save()
    return silence


@transaction.atomic
def expire_silence(silence, *, by):
    """End the silence now (a pending one never starts). Alerts it suppressed are not
    re-fired; their next message is routed as usual. Expiring twice changes nothing."""
    _require_manager(by, "expire silences")
    silence = Silence.objects.select_for_update().get(pk=silence.pk)
    now = timezone.now()
    if silence.ends_at <= now:
        return silence
    silence.starts_at, silence.ends_at = min(silence.starts_at, now), now
    silence.save(update_fields=["starts_at", "ends_at"])
    return silence


# --- manual reports -------------------------------------------------------------------

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
    return ManualReport.objects.create(reporter=by, what=what, who_affected=who_affected,
                                       since=since, service=service)


_name = functools.partial(display_name, missing="someone")


def _locked_open(report):
    report = ManualReport.objects.select_for_update().get(pk=report.pk)
    if not report.is_open:
        raise TriageError(f"Report #{report.pk} was already "
                          f"{report.get_state_display().lower()} by {_name(report.decided_by)}; "
                          "nothing changed.")
    return report


@transaction.atomic
def dismiss_report(report, *, reason, by):
    """Close a report without an incident; the reason is required and kept."""
    _require_manager(by, "triage reports")
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
    _require_manager(by, "triage reports")
    report = _locked_open(report)
    report.state, report.incident = ReportState.DECLARED, incident
    report.decided_by, report.decided_at = by, timezone.now()
    report.save(update_fields=["state", "incident", "decided_by", "decided_at"])
    services.note_alert(incident, body=f"Declared from manual report #{report.pk} by "
                                       f"{_name(report.reporter)}: "
                                       f"**{report.what}**. Affected: {report.who_affected}")
    return report
