"""A post-incident review or a handoff as a printable PDF (handbook §3.5).

The HTML comes from `templates/reports/pdf/`; `engine` (WeasyPrint) lays it out with
the print CSS. The engine is imported on the first render, not with this module:
WeasyPrint loads Pango from the system when imported, and without it every page of
the site would fail, not only the PDFs. Without Pango a render raises PDFUnavailable,
whose message says what to install (`mindweave_ir.syslibs`).
"""

import importlib
import re

from django.template.loader import render_to_string
from django.utils import timezone

from incidents.models import Severity
from mindweave_ir.markup import render_markdown
from mindweave_ir.syslibs import pdf_problem

from ..incident_report import hhmm
from .fewer_gc import fewer_collections

TEMPLATE = "reports/pdf/pir.html"
HANDOFF_TEMPLATE = "reports/pdf/handoff.html"


class PDFUnavailable(RuntimeError):
    """This machine cannot render PDFs; the message says what to install."""


def load_engine():
    """`reports.pdf.engine`, imported on first use (see the module's docstring)."""
    problem = pdf_problem()
    if problem:
        raise PDFUnavailable(problem)
    return importlib.import_module("reports.pdf.engine")


def html_to_pdf(html):
    """PDF bytes of `html` with the print CSS, loading nothing but our fonts."""
    return load_engine().html_to_pdf(html)


_ONE_PARAGRAPH = re.compile(r"<p>((?:(?!</?p[ >]).)*)</p>", re.S)


def _cell_html(body_html):
    """An entry's HTML for a table cell: a lone paragraph loses its <p>.

    Most entries are one paragraph; its last-child margin is zero in a cell anyway,
    so it prints the same, and WeasyPrint lays out one block box less per row.
    """
    match = _ONE_PARAGRAPH.fullmatch(body_html.strip())
    return match.group(1) if match else body_html


def _timeline(pir):
    """The chosen key entries, or (none chosen) the whole visible timeline."""
    chosen = list(pir.key_entries.filter(deleted_at__isnull=True).select_related("author")
                  .order_by("occurred_at", "id"))
    if chosen:
        return chosen, True
    entries = (pir.incident.timeline.filter(deleted_at__isnull=True).select_related("author")
               .order_by("occurred_at", "id"))
    return list(entries), False


def pir_context(pir, *, now=None):
    """Everything the template shows, loaded in a fixed number of queries."""
    incident = pir.incident
    entries, chosen = _timeline(pir)
    factors = list(pir.factors.all())
    return {
        "pir": pir,
        "incident": incident,
        "severity_description": Severity(incident.severity).description,
        "duration": hhmm(incident.duration(now)),
        "services": [s.name for s in incident.services.all()],
        "impact_html": render_markdown(pir.impact),
        "what_happened_html": render_markdown(pir.what_happened),
        "why_it_happened_html": render_markdown(pir.why_it_happened),
        "went_well_html": render_markdown(pir.went_well),
        "could_improve_html": render_markdown(pir.could_improve),
        "milestones": pir.milestones(),
        "entries": entries,
        "rows": [(entry, _cell_html(entry.body_html)) for entry in entries],
        "entries_chosen": chosen,
        "whys": list(pir.whys.all()),
        "factors": [f for f in factors if f.contributed],
        "other_factors": [f.get_category_display() for f in factors if not f.contributed],
        "action_items": list(pir.action_items.select_related("owner")),
        "prevention": list(pir.prevention.all()),
        "generated_at": now or timezone.now(),
    }


def render_pir_pdf(pir):
    """The review as PDF bytes; every time in it is UTC and says so."""
    to_pdf = load_engine().html_to_pdf  # PDFUnavailable before any work, not after
    # Loading and templating 200 entries allocate enough to trigger collections too.
    with fewer_collections(), timezone.override("UTC"):
        html = render_to_string(TEMPLATE, pir_context(pir))
        return to_pdf(html)


def render_handoff_pdf(handoff, activity):
    """A handoff (shift summary, unresolved issues, the shift's activity) as PDF bytes."""
    to_pdf = load_engine().html_to_pdf
    with fewer_collections(), timezone.override("UTC"):
        html = render_to_string(HANDOFF_TEMPLATE, {"handoff": handoff, "activity": activity,
                                                   "generated_at": timezone.now()})
    return to_pdf(html)
