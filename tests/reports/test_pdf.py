"""The post-incident review as a PDF: content, print layout, the download, and that
the renderer fetches nothing named by user content (DESIGN.md, security rules)."""

import gc
import io
import logging
import threading
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from incidents import services as incident_services
from incidents.models import ChecklistPhase, Severity, TimelineEntry, TimelineKind
from mindweave_ir.markup import render_markdown
from reports import pdf as reports_pdf
from reports import services
from reports.models import PostIncidentReview
from reports.pdf import html_to_pdf, render_pir_pdf

pytestmark = [pytest.mark.django_db, pytest.mark.pdf]


@pytest.fixture
def engine():
    """The WeasyPrint half of reports.pdf (imported on first use, like the app does)."""
    return reports_pdf.load_engine()

TITLE = "Checkout API returning 500s"


# --- helpers and fixtures -------------------------------------------------------------


def resolve(incident, by, resolution="Rolled back release 2026.3.1."):
    """Settle the closure checklist (tick all but one, waive that one), then resolve."""
    items = list(incident.checklist.filter(phase=ChecklistPhase.CLOSURE))
    for item in items[:-1]:
        incident_services.set_checklist_item(item, done=True, by=by)
    incident_services.waive_checklist_item(items[-1], reason="Covered by the review.", by=by)
    return incident_services.resolve_incident(incident, resolution=resolution, by=by)


def declare(by, title=TITLE, hours_ago=3):
    started = timezone.now() - timedelta(hours=hours_ago)
    return incident_services.declare_incident(
        title=title, severity=Severity.SEV2, by=by, customer_impact="Some customers cannot pay.",
        started_at=started, detected_at=started + timedelta(minutes=4))


def review_of(incident):
    return PostIncidentReview.objects.select_related("incident").get(incident=incident)


def pages_text(pdf):
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def add_entries(incident, by, count):
    start = incident.started_at
    TimelineEntry.objects.bulk_create(
        TimelineEntry(incident=incident, author=by, kind=TimelineKind.NOTE,
                      occurred_at=start + timedelta(minutes=n),
                      body=f"Checked shard {n:03d} of the payments cluster.",
                      body_html=render_markdown(f"Checked shard **{n:03d}** of the payments "
                                                "cluster."))
        for n in range(count))


def add_actions(pir, by, owner, count):
    for n in range(count):
        services.add_action_item(pir, action=f"Follow-up task {n:02d}: add a canary check",
                                 owner=owner, due_date=date.today() + timedelta(days=n),
                                 by=by, priority=("P0", "P1", "P2")[n % 3])


@pytest.fixture
def pir(ic, responder):
    incident = resolve(declare(ic), ic)
    pir = review_of(incident)
    services.add_action_item(pir, action="Add an alert on checkout 5xx rate", owner=responder,
                             due_date=date.today() + timedelta(days=7), by=ic, priority="P0",
                             kind="detective")
    return review_of(incident)


@pytest.fixture
def long_pir(ic, responder):
    """200 timeline entries and 30 action items: DESIGN.md's benchmark size."""
    incident = declare(ic, hours_ago=5)
    add_entries(incident, ic, 200)
    pir = review_of(resolve(incident, ic))
    add_actions(pir, ic, responder, 30)
    return review_of(incident)


class _Recorder(BaseHTTPRequestHandler):
    def _record(self):
        self.server.requests.append((self.command, self.path))
        self.send_response(200)
        self.send_header("Content-Type", "text/css")
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = do_HEAD = _record

    def log_message(self, format, *args):
        pass


@pytest.fixture
def receiver():
    """A local HTTP server that records every request it gets."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    server.daemon_threads = True
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def hostile_markdown(port):
    base = f"http://127.0.0.1:{port}"
    return "\n\n".join([
        "The deploy broke checkout.",
        "<script>alert(1)</script>",
        '<img src="file:///etc/passwd">',
        f"![x]({base}/leak.png)",
        f"<link rel=stylesheet href={base}/x.css>",
        f"<link rel=attachment href={base}/attach>",
        f'<div style="background-image: url({base}/style-attr.png)">styled</div>',
        f"<style>@import url({base}/import.css); body {{ background: url({base}/bg.png) }}"
        f"@font-face {{ font-family: x; src: url({base}/font.ttf) }}</style>",
        f'<svg><image href="{base}/svg.png"/></svg>',
        f'<iframe src="{base}/frame"></iframe><object data="{base}/object"></object>',
    ])


# --- content and print layout -----------------------------------------------------------


def test_pdf_has_the_title_block_summary_action_items_and_page_numbers(pir, responder, caplog):
    with caplog.at_level(logging.WARNING):
        pdf = render_pir_pdf(pir)

    assert not caplog.records  # nothing refused, nothing missing (fonts, CSS)

    assert pdf.startswith(b"%PDF")
    text = "\n".join(pages_text(pdf))
    ref = pir.incident.ref
    assert ref in text
    assert TITLE in text
    assert "SEV-2" in text
    assert "Add an alert on checkout 5xx rate" in text
    assert responder.get_full_name() in text  # the owner
    assert "Page 1 of" in text
    assert "All times are UTC" in text
    assert "Rolled back release 2026.3.1." in text  # what happened, prefilled
    assert "Declared" in text and "Incident closed" in text  # §3.5 milestones
    assert "Alert triggered" not in text  # declared by hand (issue 17 item 10)


def test_pdf_uses_only_our_own_fonts(pir):
    reader = PdfReader(io.BytesIO(render_pir_pdf(pir)))
    fonts = set()
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            fonts.add(str(font.get_object()["/BaseFont"]))

    # Subset names are "ABCDEF+<family>": every one is a print.css family, none a
    # system font picked up by fallback.
    assert fonts and all(name.split("+", 1)[1].startswith("MW-") for name in fonts), fonts


def test_markdown_sections_are_rendered_not_shown_as_markup(pir, ic):
    services.update_section(pir, section="root_cause", by=ic, expected_version=pir.version,
                            data={"what_happened": "A **bad** config push.",
                                  "why_it_happened": "- no canary\n- no review"})
    text = "\n".join(pages_text(render_pir_pdf(review_of(pir.incident))))

    assert "A bad config push." in text
    assert "**" not in text
    assert "no canary" in text


def test_chosen_key_entries_replace_the_full_timeline(ic, responder):
    incident = declare(ic)
    keep = incident_services.add_timeline_entry(incident, body="Rolled back the deploy.", by=ic)
    incident_services.add_timeline_entry(incident, body="Coffee refilled.", by=ic)
    pir = review_of(resolve(incident, ic))
    services.set_key_entries(pir, entry_ids=[keep.pk], expected_version=pir.version, by=ic)

    text = "\n".join(pages_text(render_pir_pdf(review_of(incident))))

    assert "Key events" in text
    assert "Rolled back the deploy." in text
    assert "Coffee refilled." not in text


def test_long_review_spans_pages_with_table_headers_repeated(long_pir):
    pages = pages_text(render_pir_pdf(long_pir))

    assert len(pages) >= 4
    assert f"Page {len(pages)} of {len(pages)}" in pages[-1]
    timeline_pages = [p for p in pages if "Checked shard" in p]
    action_pages = [p for p in pages if "Follow-up task" in p]
    assert len(timeline_pages) >= 3
    for page in timeline_pages:
        assert "time (utc)" in page.lower() and "author" in page.lower()
    for page in action_pages:
        assert "owner" in page.lower() and "due date" in page.lower()
    # Every entry and every action item made it in, none cut or lost.
    joined = "\n".join(pages)
    assert all(f"Checked shard {n:03d}" in joined for n in range(200))
    assert all(f"Follow-up task {n:02d}" in joined for n in range(30))


def test_rendering_restores_the_garbage_collector_thresholds():
    before = gc.get_threshold()

    html_to_pdf("<p>Hello</p>")

    assert gc.get_threshold() == before


# --- the renderer fetches nothing named by user content ------------------------------------


def test_malicious_markdown_renders_without_any_fetch(pir, ic, receiver):
    port = receiver.server_address[1]
    services.update_section(pir, section="root_cause", by=ic, expected_version=pir.version,
                            data={"what_happened": hostile_markdown(port),
                                  "why_it_happened": f"See ![y](http://127.0.0.1:{port}/why)"})
    pdf = render_pir_pdf(review_of(pir.incident))

    text = "\n".join(pages_text(pdf))
    assert receiver.requests == []
    assert "The deploy broke checkout." in text
    assert "alert(1)" not in text
    assert "root:x:0:0" not in text and "/bin/" not in text
    assert not PdfReader(io.BytesIO(pdf)).attachments


def test_fetcher_refuses_everything_but_our_font_files(engine):
    fetcher = engine.FontsOnlyFetcher()
    font = (engine.FONTS_DIR / "DejaVuSans.ttf").resolve()

    response = fetcher(font.as_uri())
    assert response.read()[:4] == b"\x00\x01\x00\x00"  # a TrueType file
    for url in ("http://127.0.0.1:9/x.png", "https://example.com/x.css",
                "file:///etc/passwd", "data:text/css,body{color:red}",
                "data:image/png;base64,iVBORw0KGgo=", "ftp://127.0.0.1/x",
                font.as_uri() + "?x=1",
                (engine.FONTS_DIR / "LICENSE-DejaVu.txt").resolve().as_uri(),
                (engine.FONTS_DIR / ".." / ".." / "manage.py").as_uri(),
                "file://evil.example/" + str(font).lstrip("/")):
        with pytest.raises(engine.RefusedURL):
            fetcher(url)


def test_unsanitised_html_with_every_kind_of_url_fetches_nothing(receiver):
    """The second wall: even HTML that never went through the sanitizer loads nothing.

    The same HTML through WeasyPrint's default fetcher does reach the receiver, so
    the receiver would have seen a leak."""
    port = receiver.server_address[1]
    html = ("<html><body><h1>Hostile</h1>"
            + hostile_markdown(port)
            + f'<img src="data:image/svg+xml,<svg xmlns=\'http://www.w3.org/2000/svg\'>'
              f'<image href=\'http://127.0.0.1:{port}/in-data.png\'/></svg>">'
            + '<link rel=attachment href="file:///etc/passwd">'
            + "</body></html>")

    pdf = html_to_pdf(html)

    assert receiver.requests == []
    assert "root:x:0:0" not in "\n".join(pages_text(pdf))
    assert not PdfReader(io.BytesIO(pdf)).attachments
    from weasyprint import HTML  # only here: this module must import without Pango

    HTML(string=html).write_pdf()  # WeasyPrint's own fetcher, for contrast
    assert receiver.requests


def test_reused_print_sheet_gives_each_review_its_own_content(engine, ic, responder):
    """The font configuration and print CSS are kept between renders (per thread);
    nothing of one review may leak into the next."""
    first = review_of(resolve(declare(ic, title="Search cluster down"), ic))
    services.add_action_item(first, action="Shard the search index", owner=responder,
                             due_date=date.today(), by=ic)
    second = review_of(resolve(declare(ic, title="Login page blank"), ic))
    services.add_action_item(second, action="Pin the auth library", owner=responder,
                             due_date=date.today(), by=ic)

    text_one = "\n".join(pages_text(render_pir_pdf(review_of(first.incident))))
    sheet = engine._print_sheet()
    text_two = "\n".join(pages_text(render_pir_pdf(review_of(second.incident))))

    assert engine._print_sheet() is sheet  # really reused
    assert "Search cluster down" in text_one and "Shard the search index" in text_one
    assert "Login page blank" not in text_one and "Pin the auth library" not in text_one
    assert "Login page blank" in text_two and "Pin the auth library" in text_two
    assert "Search cluster down" not in text_two and "Shard the search index" not in text_two


def test_reused_print_sheet_still_fetches_nothing_named_by_user_content(engine, pir, ic, receiver):
    port = receiver.server_address[1]
    render_pir_pdf(pir)  # the sheet is built and cached
    local = f"file://{(engine.FONTS_DIR / '..' / '..' / 'manage.py').resolve()}"
    for n in range(2):  # both renders use the cached sheet
        pir = review_of(pir.incident)
        services.update_section(pir, section="root_cause", by=ic, expected_version=pir.version,
                                data={"what_happened": hostile_markdown(port) + f"\n\nrun {n}",
                                      "why_it_happened": f"![y]({local}) <{local}>"})
        pdf = render_pir_pdf(review_of(pir.incident))
        assert receiver.requests == []
        assert f"run {n}" in "\n".join(pages_text(pdf))


def test_a_document_that_loads_a_font_itself_does_not_keep_it_in_the_cached_sheet(engine):
    """A font face from the document's own CSS goes into the shared font configuration;
    the sheet is then dropped, so the next render starts from print.css alone."""
    sheet = engine._print_sheet()
    font = (engine.FONTS_DIR / "DejaVuSansMono.ttf").resolve().as_uri()

    html_to_pdf(f"<style>@font-face {{ font-family: 'MW Sans'; src: url({font}) }}</style>"
                "<p>Hello</p>")

    assert engine._print_sheet() is not sheet
    after = engine._print_sheet()
    html_to_pdf("<p>Hello</p>")
    assert engine._print_sheet() is after  # plain documents keep it


def test_each_thread_builds_its_own_print_sheet(engine):
    sheets = []
    thread = threading.Thread(target=lambda: sheets.append(engine._print_sheet()))
    thread.start()
    thread.join()

    assert sheets[0] is not engine._print_sheet()


# --- the download ----------------------------------------------------------------------------


def test_viewer_downloads_the_pdf_as_an_attachment(client, viewer, pir):
    client.force_login(viewer)
    ref = pir.incident.ref

    response = client.get(reverse("reports:pir-pdf", args=[ref]))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="{ref}-pir.pdf"'
    assert response.content.startswith(b"%PDF")


def test_pdf_url_accepts_a_lower_case_id(client, viewer, pir):
    client.force_login(viewer)

    response = client.get(reverse("reports:pir-pdf", args=[pir.incident.ref.lower()]))

    assert response.status_code == 200


def test_pdf_is_404_for_an_unknown_id_or_an_incident_without_review(client, viewer, ic):
    open_incident = declare(ic, title="Still burning")
    client.force_login(viewer)

    assert client.get(reverse("reports:pir-pdf", args=["INC-1999-0001"])).status_code == 404
    assert client.get(reverse("reports:pir-pdf", args=[open_incident.ref])).status_code == 404


def test_pdf_needs_login(client, pir):
    response = client.get(reverse("reports:pir-pdf", args=[pir.incident.ref]))

    assert response.status_code == 302
    assert reverse("login") in response["Location"]


def test_pdf_download_queries_do_not_grow_with_rows(client, viewer, long_pir,
                                                    django_assert_max_num_queries):
    client.force_login(viewer)

    # A first download renders: 12 to render, 3 for the fingerprint, 1 to look up the
    # stored PDF and 2 to store the new one (tests/reports/test_pdf_store.py).
    with django_assert_max_num_queries(18):
        response = client.get(reverse("reports:pir-pdf", args=[long_pir.incident.ref]))

    assert response.status_code == 200


def test_font_license_ships_with_the_fonts(engine):
    assert Path(engine.FONTS_DIR, "LICENSE-DejaVu.txt").read_text().count("Bitstream") >= 1
