"""Silences (maintenance windows) at /incidents/silences/ (issue 6 item 5).

Everyone logged in reads; Incident Commanders and Managers create and expire
(checked in services/silences.py, which these call). The matchers are typed one per
line, as in amtool; a bad one is a form error and nothing is saved.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from mindweave_ir.templatetags.mw import when

from .. import permissions, services
from ..forms import SilenceForm
from ..models import Alert, Silence

LIST = "incidents/silences/silence_list.html"
EXPIRED_SHOWN = 50
SUPPRESSED_SHOWN = 100


def _list_context(request, form):
    now = timezone.now()
    counted = Silence.objects.select_related("integration", "created_by") \
        .annotate(suppressed_count=Count("suppressed_alerts"))
    return {
        "current": counted.filter(ends_at__gt=now).order_by("starts_at", "id"),
        "expired": counted.expired(now).order_by("-ends_at", "-id")[:EXPIRED_SHOWN],
        "form": form, "can_manage": permissions.can_triage(request.user), "now": now,
    }


@require_http_methods(["GET", "POST"])
def silence_list(request):
    """Active and pending silences, the latest expired ones, and the form to add one."""
    form = SilenceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            silence = services.create_silence(
                matchers=data["matchers"], integration=data["integration"],
                starts_at=data["starts_at"], ends_at=data["ends_at"],
                comment=data["comment"], by=request.user)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, f"Silence #{silence.pk} created: it mutes matching "
                                      f"alerts until {when(silence.ends_at)}.")
            return redirect("incidents:silences")
    status = 400 if request.method == "POST" else 200
    return render(request, LIST, _list_context(request, form), status=status)


@require_GET
def silence_detail(request, pk):
    """One silence and the alerts it suppressed."""
    silence = get_object_or_404(Silence.objects.select_related("integration", "created_by"),
                                pk=pk)
    alerts = Alert.objects.filter(silence=silence).select_related("incident") \
        .order_by("-created_at", "-id")
    return render(request, "incidents/silences/silence_detail.html", {
        "silence": silence, "alerts": alerts[:SUPPRESSED_SHOWN], "total": alerts.count(),
        "state": silence.state(), "can_manage": permissions.can_triage(request.user),
    })


@require_POST
def silence_expire(request, pk):
    """End a silence now; what it suppressed is not re-fired."""
    silence = get_object_or_404(Silence, pk=pk)
    services.expire_silence(silence, by=request.user)
    messages.success(request, f"Silence #{silence.pk} expired. Alerts it suppressed were not "
                              "re-fired; their next message is routed as usual.")
    return redirect("incidents:silences")
