"""Problem reports and their triage (§3.1): anyone logged in reports a problem at
/incidents/report/; Incident Commanders and Managers triage them at /incidents/triage/
(everyone may read it): declare an incident from one (the declare wizard, prefilled,
through `?from_report=<id>`) or dismiss it with a reason. The rules live in
services/triage.py; a report already decided is refused with a message.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from mindweave_ir.htmx import is_fragment

from .. import permissions, services
from ..forms import DismissForm, ReportForm
from ..models import ManualReport, ReportState

TRIAGE = "incidents/reports/triage.html"
DECIDED_SHOWN = 20


@require_http_methods(["GET", "POST"])
def report_new(request):
    """The short report form; any logged-in user, Viewers included."""
    form = ReportForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            report = services.submit_report(
                what=data["what"], who_affected=data["who_affected"], since=data["since"],
                service=data["service"], by=request.user)
        except services.TriageError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Thank you: report #{report.pk} is in the triage queue; "
                                      "an Incident Commander will look at it.")
            return redirect("incidents:triage")
    status = 400 if request.method == "POST" else 200
    return render(request, "incidents/reports/report_form.html", {"form": form},
                  status=status)


def _triage_context(request, dismiss_forms=None):
    reports = ManualReport.objects.select_related("reporter", "service")
    forms = dismiss_forms or {}
    return {
        "open": [(report, forms.get(report.pk)) for report in
                 reports.filter(state=ReportState.OPEN).order_by("created_at", "id")],
        "decided": reports.exclude(state=ReportState.OPEN)
        .select_related("decided_by", "incident").order_by("-decided_at", "-id")[:DECIDED_SHOWN],
        "can_triage": permissions.can_triage(request.user),
    }


@require_GET
def triage(request):
    """Open reports, oldest first, and the latest decided ones."""
    return render(request, TRIAGE, _triage_context(request))


@require_POST
def report_dismiss(request, pk):
    """Dismiss with a reason (required); a decided report is refused, nothing changed."""
    report = get_object_or_404(ManualReport, pk=pk)
    if not permissions.can_triage(request.user):
        raise PermissionDenied("Only Incident Commanders and Managers may triage reports.")
    form = DismissForm(request.POST)
    if not form.is_valid():
        return render(request, TRIAGE, _triage_context(request, {report.pk: form}), status=400)
    try:
        services.dismiss_report(report, reason=form.cleaned_data["reason"],
                                       by=request.user)
    except services.TriageError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Report #{report.pk} dismissed.")
    return redirect("incidents:triage")


def report_to_declare(request):
    """For the declare wizard: (the open report named by `from_report`, or None;
    a response refusing it, or None). Only triagers may declare from a report."""
    raw = request.POST.get("from_report") or request.GET.get("from_report")
    if not raw:
        return None, None
    try:
        report = ManualReport.objects.select_related("service").get(pk=int(raw))
    except (ValueError, ManualReport.DoesNotExist):
        raise Http404("No such report.") from None
    if not permissions.can_triage(request.user):
        raise PermissionDenied("Only Incident Commanders and Managers may triage reports.")
    if report.is_open:
        return report, None
    messages.error(request, f"Report #{report.pk} was already "
                            f"{report.get_state_display().lower()}; nothing changed.")
    url = reverse("incidents:triage")
    if is_fragment(request):
        return None, HttpResponseClientRedirect(url)
    return None, redirect(url)
