"""Silences (maintenance windows, issue 6 item 5): created and expired by Incident
Commanders and Managers. Each runs in one transaction; a refusal changes nothing."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from mindweave_ir.inputs import PLANNING_HORIZON, OutOfRange, ahead, check_time

from .. import permissions
from ..models import Silence
from .common import require


@transaction.atomic
def create_silence(*, matchers, ends_at, comment, by, starts_at=None, integration=None):
    """A maintenance window from `starts_at` (default now) to `ends_at`.

    Raises ValidationError (matchers, times, comment) and saves nothing if any is bad.
    """
    require(permissions.can_triage(by),
            "Only Incident Commanders and Managers may create silences.")
    now = timezone.now()
    silence = Silence(matchers=matchers, integration=integration, starts_at=starts_at or now,
                      ends_at=ends_at, comment=(comment or "").strip(), created_by=by,
                      created_at=now)
    silence.full_clean()
    for field in ("starts_at", "ends_at"):
        try:
            check_time(getattr(silence, field), latest=ahead(PLANNING_HORIZON))
        except OutOfRange as exc:
            raise ValidationError({field: str(exc)}) from None
    if silence.ends_at <= now:
        raise ValidationError({"ends_at": "The silence would already be over."})
    silence.save()
    return silence


@transaction.atomic
def expire_silence(silence, *, by):
    """End the silence now (a pending one never starts). Alerts it suppressed are not
    re-fired; their next message is routed as usual. Expiring twice changes nothing."""
    require(permissions.can_triage(by),
            "Only Incident Commanders and Managers may expire silences.")
    silence = Silence.objects.select_for_update().get(pk=silence.pk)
    now = timezone.now()
    if silence.ends_at <= now:
        return silence
    silence.starts_at, silence.ends_at = min(silence.starts_at, now), now
    silence.save(update_fields=["starts_at", "ends_at"])
    return silence
