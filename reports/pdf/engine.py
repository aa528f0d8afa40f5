"""HTML to PDF with WeasyPrint: the half of `reports.pdf` that needs Pango.

Imported only when a PDF is rendered (`reports.pdf.load_engine()`), so a machine
without WeasyPrint's system libraries serves every page but the PDFs. The print CSS comes
from `static/css/print.css` (read from disk, never over the network). The review holds
user-written text, so the renderer gets a URL fetcher that refuses every URL but
our own font files (DESIGN.md: "The PDF renderer must not fetch remote or local
files named by user content"). The Markdown sanitizer already drops images,
stylesheets and style attributes; the fetcher is the second wall, in case
something slips past the first.
"""

import logging
import threading
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from django.conf import settings
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse

from .fewer_gc import fewer_collections

logger = logging.getLogger(__name__)

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
        with fewer_collections():
            # No base URL: a relative URL in user content resolves to nothing.
            document = HTML(string=html, base_url=None, url_fetcher=fetcher)
            pdf = document.write_pdf(stylesheets=[stylesheet], font_config=font_config)
        done = True
        return pdf
    finally:
        if fetcher.served or not done:
            _forget_print_sheet()
