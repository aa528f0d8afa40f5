"""Downloads: a review as PDF, an incident as a Markdown report.

Everyone logged in may download (viewers read); both are attachments named after
the incident's id, e.g. `INC-2026-0042-pir.pdf`.
"""

from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from incidents.models import Incident

from ..incident_report import incident_report_markdown
from ..models import PostIncidentReview
from ..pdf import PDFUnavailable
from ..pdf.store import pdf_for


def attachment(content, content_type, filename):
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def pdf_attachment(request, make_pdf, filename):
    """`make_pdf()` as a PDF download, or (no Pango here) a page saying what to install."""
    try:
        content = make_pdf()
    except PDFUnavailable as exc:
        return render(request, "errors/page.html", {
            "title": "PDF export is not available on this server", "message": str(exc),
        }, status=503)
    return attachment(content, "application/pdf", filename)


@require_GET
def pir_pdf(request, ref):
    """The review as a PDF; 404 for an unknown incident or one with no review yet.
    The stored PDF when nothing it shows has changed, else rendered now (never stale)."""
    pir = get_object_or_404(
        PostIncidentReview.objects.select_related(
            "incident", "incident__commander", "approved_by"),
        incident__ref=ref.upper(),
    )
    return pdf_attachment(request, lambda: pdf_for(pir), f"{pir.incident.ref}-pir.pdf")


@require_GET
def incident_report(request, ref):
    """The incident as Markdown (handbook §6.1 generateReport)."""
    incident = get_object_or_404(
        Incident.objects.select_related("commander").prefetch_related("services"),
        ref=ref.upper(),
    )
    return attachment(incident_report_markdown(incident), "text/markdown; charset=utf-8",
                       f"{incident.ref}-report.md")
