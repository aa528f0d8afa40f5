"""Downloads: a review as PDF, an incident as a Markdown report.

Everyone logged in may download (viewers read); both are attachments named after
the incident's id, e.g. `INC-2026-0042-pir.pdf`.
"""

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET

from incidents.models import Incident

from ..incident_report import incident_report_markdown
from ..models import PostIncidentReview
from ..pdf import render_pir_pdf


def attachment(content, content_type, filename):
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@require_GET
def pir_pdf(request, ref):
    """The review as a PDF; 404 for an unknown incident or one with no review yet."""
    pir = get_object_or_404(
        PostIncidentReview.objects.select_related(
            "incident", "incident__commander", "approved_by"),
        incident__ref=ref.upper(),
    )
    return attachment(render_pir_pdf(pir), "application/pdf", f"{pir.incident.ref}-pir.pdf")


@require_GET
def incident_report(request, ref):
    """The incident as Markdown (handbook §6.1 generateReport)."""
    incident = get_object_or_404(
        Incident.objects.select_related("commander").prefetch_related("services"),
        ref=ref.upper(),
    )
    return attachment(incident_report_markdown(incident), "text/markdown; charset=utf-8",
                       f"{incident.ref}-report.md")
