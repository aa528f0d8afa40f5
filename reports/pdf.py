"""A post-incident review as a printable PDF (handbook §3.5), rendered by WeasyPrint.

The HTML comes from `templates/reports/pdf/pir.html`, the print CSS from
`static/css/print.css` (read from disk, never over the network). The review holds
user-written text, so the renderer gets a URL fetcher that refuses every URL but
our own font files (DESIGN.md: "The PDF renderer must not fetch remote or local
files named by user content"). The Markdown sanitizer already drops images,
stylesheets and style attributes; the fetcher is the second wall, in case
something slips past the first.
"""

import contextlib
import gc
import logging
import re
import threading
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse

from incidents.models import Severity
from mindweave_ir.markup import render_markdown

from .incident_report import hhmm

logger = logging.getLogger(__name__)

TEMPLATE = "reports/pdf/pir.html"
HANDOFF_TEMPLATE = "reports/pdf/handoff.html"
STATIC_DIR = Path(settings.BASE_DIR) / "static"
PRINT_CSS = STATIC_DIR / "css" / "print.css"
FONTS_DIR = STATIC_DIR / "fonts"
# The only files the renderer may read through its fetcher (declared in print.css).
FONT_FILES = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSansMono.ttf")


class RefusedURL(ValueError):
    """The renderer asked for something other than one of our fonts."""


class FontsOnlyFetcher(URLFetcher):
    """Serves our own font files from disk; refuses every other URL.

    WeasyPrint 70 routes every load (images, stylesheets, @import, @font-face,
    attachments, and since 69 redirects too) through `fetch`. This one never opens
    a connection or follows a redirect: a URL is either the exact `file:` URL of one
    of FONT_FILES (after resolving `..` and symlinks) or refused. http(s), data:,
    other file: paths and relative URLs all raise, which WeasyPrint logs and skips.
    """

    def __init__(self, fonts_dir=FONTS_DIR, names=FONT_FILES):
        super().__init__(allowed_protocols=("file",), allow_redirects=False)
        self._fonts = {(Path(fonts_dir) / name).resolve() for name in names}

    def fetch(self, url, headers=None):
        path = self._font_path(url)
        if path is None:
            logger.warning("PDF renderer refused to fetch %.200s", url)
            raise RefusedURL(f"The PDF renderer only reads its own fonts; refused {url[:200]}")
        return URLFetcherResponse(url, body=path.read_bytes(),
                                  headers={"Content-Type": "font/ttf"})

    def _font_path(self, url):
        try:
            parts = urlsplit(url)
        except ValueError:
            return None
        if parts.scheme.lower() != "file" or parts.netloc not in ("", "localhost") \
                or parts.query or parts.fragment:
            return None
        path = Path(url2pathname(parts.path)).resolve()
        return path if path in self._fonts else None


# Young-generation size while rendering (Python's default is 700).
RENDER_GC_THRESHOLD = 100_000
_gc_lock = threading.Lock()
_gc_renders = 0
_gc_saved = None


@contextlib.contextmanager
def _fewer_collections():
    """Run the garbage collector less often while a PDF renders.

    WeasyPrint allocates a few million short-lived objects for a long review; with
    the default thresholds the collector runs thousands of times and keeps walking
    Django's large heap, a third of the render time in tests/bench/pdf_render.py.
    The thresholds are process-wide, so concurrent renders share one raise: the
    first to start raises them, the last to finish restores them (nesting is fine).
    """
    global _gc_renders, _gc_saved
    with _gc_lock:
        if _gc_renders == 0:
            _gc_saved = gc.get_threshold()
            gc.set_threshold(RENDER_GC_THRESHOLD, *_gc_saved[1:])
        _gc_renders += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_renders -= 1
            if _gc_renders == 0:
                gc.set_threshold(*_gc_saved)


class _ServingFetcher(FontsOnlyFetcher):
    """FontsOnlyFetcher that remembers whether it served a font."""

    served = False

    def fetch(self, url, headers=None):
        response = super().fetch(url, headers)
        self.served = True
        return response


# One (FontConfiguration, parsed print.css) per thread, reused across renders.
# Pango objects are not safe to share between threads, hence thread-local rather than
# module-wide: each gunicorn thread gets its own, built on its first render.
_sheets = threading.local()


def _print_sheet():
    """This thread's font configuration and parsed print CSS, built on first use.

    Building them parses print.css and loads our three fonts into a fresh Fontconfig
    configuration; reusing them saves that work and keeps Pango's font caches warm.
    Only print.css's own @font-face rules (our fonts) ever go in: see html_to_pdf.
    """
    sheet = getattr(_sheets, "sheet", None)
    if sheet is None:
        font_config = FontConfiguration()
        # filename= gives the sheet a file: base URL, so its url(../fonts/...) resolve
        # to the exact paths the fetcher allows.
        css = CSS(filename=str(PRINT_CSS), url_fetcher=FontsOnlyFetcher(),
                  font_config=font_config)
        sheet = _sheets.sheet = (font_config, css)
    return sheet


def _forget_print_sheet():
    _sheets.sheet = None


def html_to_pdf(html):
    """PDF bytes of `html` with the print CSS, loading nothing but our fonts."""
    font_config, stylesheet = _print_sheet()
    # The document gets its own fetcher. If the document itself made it serve a font
    # (an @font-face in the HTML: never from our templates, whose user text is
    # sanitized), that face went into the shared font configuration, so the
    # configuration is dropped after this render and the next one starts clean.
    fetcher = _ServingFetcher()
    done = False
    try:
        with _fewer_collections():
            # No base URL: a relative URL in user content resolves to nothing.
            document = HTML(string=html, base_url=None, url_fetcher=fetcher)
            pdf = document.write_pdf(stylesheets=[stylesheet], font_config=font_config)
        done = True
        return pdf
    finally:
        if fetcher.served or not done:
            _forget_print_sheet()


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
    # Loading and templating 200 entries allocate enough to trigger collections too.
    with _fewer_collections(), timezone.override("UTC"):
        html = render_to_string(TEMPLATE, pir_context(pir))
        return html_to_pdf(html)


def render_handoff_pdf(handoff, activity):
    """A handoff (shift summary, unresolved issues, the shift's activity) as PDF bytes."""
    with _fewer_collections(), timezone.override("UTC"):
        html = render_to_string(HANDOFF_TEMPLATE, {"handoff": handoff, "activity": activity,
                                                   "generated_at": timezone.now()})
    return html_to_pdf(html)
