"""Reviews' PDFs stored by what they show (issue 19 item 3): an unchanged review downloads
without a render, every kind of change the PDF shows makes the next download new, a
change is rendered in the background, and the admin export uses the stored PDFs."""

import io
import zipfile
from datetime import date, timedelta

import pytest
from django.core.cache import cache
from django.db.models import F
from django.urls import reverse

import reports.tasks  # noqa: F401 - registers the task the fake broker runs
from incidents import services as incident_services
from incidents.models import Incident, TimelineEntry
from mindweave_ir import queue
from reports.models import ActionStatus, PostIncidentReview, ReviewPDF
from reports.pdf import store
from reports.services import pir as services
from tests.reports.factories import resolved_pir
from tests.reports.test_pdf import pages_text

pytestmark = [pytest.mark.django_db, pytest.mark.pdf]

CHANGELIST = "/admin/reports/postincidentreview/"


@pytest.fixture(autouse=True)
def _no_wake_up_flags():
    cache.clear()  # the once-within flags live in the (per-process) cache
    yield
    cache.clear()


@pytest.fixture
def renders(monkeypatch):
    """Every real render of a review's PDF through the store, counted (the render
    itself is the real one)."""
    done = []
    real = store.render_pir_pdf

    def counted(pir):
        done.append(pir.pk)
        return real(pir)

    monkeypatch.setattr(store, "render_pir_pdf", counted)
    return done


@pytest.fixture
def worker(monkeypatch):
    """A broker whose tasks run at once in this process, as a worker would run them;
    returns the names and arguments sent."""
    sent = []

    def send_task(name, args=(), kwargs=None):
        sent.append((name, tuple(args)))
        queue.app.tasks[name].apply(args=args, kwargs=kwargs or {}).get()

    monkeypatch.setattr(queue.app, "send_task", send_task)
    return sent


@pytest.fixture
def pir(ic, responder):
    pir = resolved_pir(ic)
    services.add_action_item(pir, action="Add an alert on checkout 5xx rate", owner=responder,
                             due_date=date.today() + timedelta(days=7), by=ic, priority="P0")
    return PostIncidentReview.objects.get(pk=pir.pk)


def fresh(pir):
    return PostIncidentReview.objects.select_related("incident").get(pk=pir.pk)


def download(client, pir):
    response = client.get(reverse("reports:pir-pdf", args=[pir.incident.ref]))
    assert response.status_code == 200
    assert response.content.startswith(b"%PDF")
    return response.content


def text_of(pdf):
    """The PDF's text with every line break and run of spaces as one space (a name may
    wrap in its table cell)."""
    return " ".join(" ".join(pages_text(pdf)).split())


# --- served as stored ------------------------------------------------------------------------


def test_an_unchanged_review_downloads_the_stored_pdf_without_rendering(
        client, viewer, pir, renders, django_assert_max_num_queries):
    client.force_login(viewer)
    first = download(client, pir)
    assert renders == [pir.pk]
    assert ReviewPDF.objects.get(pir=pir).fingerprint == store.fingerprint(fresh(pir))

    with django_assert_max_num_queries(8):
        again = download(client, pir)

    assert renders == [pir.pk]
    assert again == first


def test_a_stored_pdf_of_another_fingerprint_is_never_served(client, viewer, pir, renders):
    ReviewPDF.objects.create(pir=pir, fingerprint="0" * 64, content=b"%PDF-stale")
    client.force_login(viewer)

    content = download(client, pir)

    assert content != b"%PDF-stale"
    assert renders == [pir.pk]
    stored = ReviewPDF.objects.get(pir=pir)
    assert bytes(stored.content) == content
    assert stored.fingerprint == store.fingerprint(fresh(pir))


# --- never stale: each kind of change the PDF shows ------------------------------------------


def edit_section(pir, ic, responder):
    services.update_section(fresh(pir), section="root_cause", by=ic,
                            expected_version=fresh(pir).version,
                            data={"what_happened": "Zanzibar pool exhausted."})
    return "Zanzibar pool exhausted."


def close_action_item(pir, ic, responder):
    """An action item's status after approval-time too is in the PDF."""
    item = fresh(pir).action_items.get()
    services.update_action_item(item, status=ActionStatus.WONT_DO, by=responder)
    return "Won't do"


def choose_key_entries(pir, ic, responder):
    entry = incident_services.add_timeline_entry(pir.incident, body="Quokka shard failed over.",
                                                 by=ic)
    services.set_key_entries(fresh(pir), entry_ids=[entry.pk], expected_version=fresh(pir).version,
                             by=ic)
    return "Key events"


def edit_timeline_entry(pir, ic, responder):
    entry = TimelineEntry.objects.filter(incident=pir.incident, kind="note").first() or \
        incident_services.add_timeline_entry(pir.incident, body="First look.", by=ic)
    incident_services.edit_timeline_entry(entry, body="Wombat cache flushed.",
                                          expected_version=entry.version, by=ic)
    return "Wombat cache flushed."


def retitle_incident(pir, ic, responder):
    """An UPDATE that leaves the incident's updated_at alone still shows."""
    Incident.objects.filter(pk=pir.incident_id).update(title="Okapi gateway timeouts",
                                                       updated_at=F("updated_at"))
    return "Okapi gateway timeouts"


def rename_owner(pir, ic, responder):
    responder.first_name, responder.last_name = "Marguerite", "Yourcenar"
    responder.save(update_fields=["first_name", "last_name"])
    return "Marguerite Yourcenar"


CHANGES = [edit_section, close_action_item, choose_key_entries, edit_timeline_entry,
           retitle_incident, rename_owner]


@pytest.mark.parametrize("change", CHANGES, ids=[c.__name__ for c in CHANGES])
def test_after_a_change_the_next_download_shows_it(client, viewer, ic, responder, pir,
                                                   renders, change):
    client.force_login(viewer)
    before = download(client, pir)

    shown = change(pir, ic, responder)
    after = download(client, pir)

    assert renders == [pir.pk, pir.pk]
    assert shown not in text_of(before)
    assert shown in text_of(after)


# --- rendered in the background --------------------------------------------------------------


def test_a_change_renders_the_pdf_in_the_background_once_it_commits(
        client, viewer, ic, pir, renders, worker, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        edit_section(pir, ic, None)

    assert worker == [("reports.tasks.render_review_pdf", (pir.pk,))]
    assert renders == [pir.pk]
    stored = ReviewPDF.objects.get(pir=pir)
    assert stored.fingerprint == store.fingerprint(fresh(pir))
    assert "Zanzibar pool exhausted." in text_of(bytes(stored.content))

    client.force_login(viewer)
    assert download(client, pir) == bytes(stored.content)
    assert renders == [pir.pk]


def test_a_change_rolled_back_sends_nothing(ic, pir, worker, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        edit_section(pir, ic, None)
    # The render's wake-up and the live-version bump, both sent only on commit: a
    # rollback drops them.
    assert len(callbacks) == 2

    assert worker == []


def test_edits_while_a_render_is_queued_send_one_wake_up(
        ic, responder, pir, monkeypatch, django_capture_on_commit_callbacks):
    sent = []
    monkeypatch.setattr(queue.app, "send_task", lambda name, args=(), kwargs=None:
                        sent.append((name, tuple(args))))
    with django_capture_on_commit_callbacks(execute=True):
        edit_section(pir, ic, responder)
    with django_capture_on_commit_callbacks(execute=True):
        close_action_item(pir, ic, responder)

    assert sent == [("reports.tasks.render_review_pdf", (pir.pk,))]


def test_the_render_task_delivered_twice_renders_once(pir, renders):
    assert reports.tasks.render_review_pdf.apply(args=[pir.pk]).get() == "rendered"
    assert reports.tasks.render_review_pdf.apply(args=[pir.pk]).get() == "stored PDF is current"
    assert reports.tasks.render_review_pdf.apply(args=[0]).get() == "no such review"

    assert renders == [pir.pk]
    assert ReviewPDF.objects.count() == 1


# --- the admin export ------------------------------------------------------------------------


def test_admin_export_uses_the_stored_pdfs(client, manager, ic, pir, renders):
    other = resolved_pir(ic, title="Second incident")
    for review in (pir, other):
        store.refresh(review.pk)
    assert len(renders) == 2
    client.force_login(manager)

    one = client.post(CHANGELIST, {"action": "export_pdf", "_selected_action": [pir.pk]})
    both = client.post(CHANGELIST, {"action": "export_pdf",
                                    "_selected_action": [pir.pk, other.pk]})

    assert len(renders) == 2
    assert one.content == bytes(ReviewPDF.objects.get(pir=pir).content)
    with zipfile.ZipFile(io.BytesIO(both.content)) as archive:
        assert archive.read(f"{other.incident.ref}-pir.pdf") == \
            bytes(ReviewPDF.objects.get(pir=other).content)
