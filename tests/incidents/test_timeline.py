"""The incident timeline (§6.1 TimelineEntry): entries added by hand, edited (the text
before kept, a stale edit refused with both texts shown), deleted (only marked),
sanitised; a long timeline shows its latest entries. Through the services and the page."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from incidents import services
from incidents.models import (
    Severity,
    TimelineEntry,
    TimelineKind,
)
from incidents.services import ConflictError
from tests.incidents.factories import declare, note
from tests.incidents.helpers import (
    HX,
    MINUTE,
    NOW,
    assert_full_page,
    declare_bare,
    hx_trigger,
    refused,
    reload,
    section,
    snapshot,
    system_entry,
    url,
)
from tests.pages import assert_fragment, html

pytestmark = pytest.mark.django_db


SCRIPT = "Look <script>alert('xss')</script> here"
JS_LINK = "See [the dashboard](javascript:alert(document.cookie))"
RAW_JS_LINK = '<a href="javascript:alert(1)">the dashboard</a>'
DANGEROUS = [SCRIPT, JS_LINK, RAW_JS_LINK]
DANGEROUS_IDS = ["script", "markdown-javascript-link", "html-javascript-link"]


def _assert_sanitised(entry, typed):
    entry = reload(entry)
    assert entry.body == typed
    html = entry.body_html.lower()
    assert "<script" not in html
    assert "alert(" not in html
    assert "javascript:" not in html


# --- add, edit, delete ------------------------------------------------------------------


class TestTimelineServices:
    """The timeline services, called directly; the clock stands still at NOW."""

    @pytest.fixture(autouse=True)
    def clock(self):
        with time_machine.travel(NOW, tick=False) as traveller:
            yield traveller

    @pytest.fixture
    def incident(self, ic):
        return declare(ic, title="Checkout API returning errors", severity=Severity.SEV2)

    def test_added_entry_is_stored_with_author_kind_and_rendered_html(self, incident, ic):
        earlier = NOW - 15 * MINUTE

        entry = services.add_timeline_entry(incident, body="  Found **the** bad query ", by=ic,
                                            kind=TimelineKind.FINDING, occurred_at=earlier)

        entry = reload(entry)
        assert entry.body == "Found **the** bad query"
        assert entry.body_html == "<p>Found <strong>the</strong> bad query</p>"
        assert (entry.kind, entry.author, entry.version) == (TimelineKind.FINDING, ic, 1)
        assert (entry.occurred_at, entry.created_at) == (earlier, NOW)

    @pytest.mark.parametrize(
        ("body", "kind", "occurred_at", "match"),
        [("  ", TimelineKind.NOTE, None, "needs some text"),
         ("Declared again", TimelineKind.DECLARED, None, "written by the system"),
         ("Later", TimelineKind.NOTE, NOW + 10 * MINUTE, "Pick a time between")],
        ids=["empty", "system-kind", "future"],
    )
    def test_invalid_new_entry_is_refused(self, incident, ic, body, kind, occurred_at, match):
        with refused(incident, match=match):
            services.add_timeline_entry(incident, body=body, by=ic, kind=kind,
                                        occurred_at=occurred_at)

    def test_edit_keeps_the_previous_text_as_a_revision(self, incident, ic, responder, clock):
        services.join_incident(incident, by=responder)
        entry = note(incident, ic, body="Restarted the pods.")
        clock.shift(5 * MINUTE)

        edited = services.edit_timeline_entry(entry, body="Restarted the *checkout* pods.",
                                              expected_version=1, by=responder)

        edited = reload(edited)
        assert edited.body == "Restarted the *checkout* pods."
        assert edited.body_html == "<p>Restarted the <em>checkout</em> pods.</p>"
        assert edited.version == 2
        assert (edited.edited_by, edited.edited_at) == (responder, NOW + 5 * MINUTE)
        assert edited.author == ic
        (revision,) = edited.revisions.all()
        assert (revision.version, revision.body, revision.kind) == (
            1, "Restarted the pods.", TimelineKind.NOTE)
        assert (revision.occurred_at, revision.replaced_by, revision.replaced_at) == (
            NOW, responder, NOW + 5 * MINUTE)

    def test_each_edit_increments_the_version_and_keeps_every_revision(self, incident, ic):
        entry = note(incident, ic, body="v1")

        services.edit_timeline_entry(entry, body="v2", expected_version=1, by=ic)
        services.edit_timeline_entry(entry, body="v3", expected_version=2, by=ic,
                                     kind=TimelineKind.ACTION, occurred_at=NOW - MINUTE)

        entry = reload(entry)
        assert (entry.body, entry.version, entry.kind, entry.occurred_at) == (
            "v3", 3, TimelineKind.ACTION, NOW - MINUTE)
        assert [(r.version, r.body) for r in entry.revisions.all()] == [(2, "v2"), (1, "v1")]

    def test_stale_edit_is_refused_and_keeps_text(self, incident, ic, manager):
        entry = note(incident, ic, body="Restarted the pods.")
        services.edit_timeline_entry(entry, body="Restarted the checkout pods.",
                                     expected_version=1, by=manager)

        with refused(incident, ConflictError, match="Manager changed this entry") as info:
            services.edit_timeline_entry(entry, body="Restarted pods (mine).",
                                         expected_version=1, by=ic)

        assert info.value.current.body == "Restarted the checkout pods."
        assert info.value.current.version == 2

    def test_editing_a_deleted_entry_is_a_conflict(self, incident, ic):
        entry = note(incident, ic)
        services.delete_timeline_entry(entry, expected_version=1, by=ic)

        with refused(incident, ConflictError, match="deleted"):
            services.edit_timeline_entry(entry, body="Too late.", expected_version=2, by=ic)

    def test_edit_cannot_turn_an_entry_into_a_system_kind(self, incident, ic):
        entry = note(incident, ic)

        with refused(incident, match="written by the system"):
            services.edit_timeline_entry(entry, body="x", expected_version=1, by=ic,
                                         kind=TimelineKind.RESOLVED)

    def test_deleting_is_soft_and_records_who_and_when(self, incident, ic, manager, clock):
        entry = note(incident, ic)
        clock.shift(MINUTE)

        services.delete_timeline_entry(entry, expected_version=1, by=manager)

        entry = reload(entry)
        assert entry.body == "Restarted the checkout pods."
        assert (entry.deleted_by, entry.deleted_at) == (manager, NOW + MINUTE)
        assert entry.version == 2
        revision = entry.revisions.get()
        assert (revision.version, revision.body, revision.replaced_by) == (
            1, "Restarted the checkout pods.", manager)

    def test_deleting_twice_is_refused(self, incident, ic):
        entry = note(incident, ic)
        services.delete_timeline_entry(entry, expected_version=1, by=ic)

        with refused(incident, match="already deleted"):
            services.delete_timeline_entry(entry, expected_version=2, by=ic)

    def test_stale_delete_is_refused_and_keeps_the_entry(self, incident, ic):
        entry = note(incident, ic)
        services.edit_timeline_entry(entry, body="Edited.", expected_version=1, by=ic)

        with refused(incident, ConflictError, match="read it again"):
            services.delete_timeline_entry(entry, expected_version=1, by=ic)

    def test_system_entry_cannot_be_edited(self, incident, ic):
        entry = system_entry(incident)

        with refused(incident, match="cannot be edited"):
            services.edit_timeline_entry(entry, body="Rewritten history.", expected_version=1,
                                         by=ic, kind=TimelineKind.NOTE)

    def test_system_entry_cannot_be_deleted(self, incident, manager):
        entry = system_entry(incident)

        with refused(incident, match="cannot be deleted"):
            services.delete_timeline_entry(entry, expected_version=1, by=manager)

    @pytest.mark.parametrize("typed", DANGEROUS, ids=DANGEROUS_IDS)
    def test_dangerous_markup_is_stored_as_typed_but_not_rendered(self, incident, ic, typed):
        entry = note(incident, ic, body=typed)

        _assert_sanitised(entry, typed)

    @pytest.mark.parametrize("typed", DANGEROUS, ids=DANGEROUS_IDS)
    def test_dangerous_markup_is_not_rendered_after_an_edit(self, incident, ic, typed):
        entry = note(incident, ic, body="Harmless")

        services.edit_timeline_entry(entry, body=typed, expected_version=1, by=ic)

        _assert_sanitised(entry, typed)

    def test_ordinary_links_survive_sanitising(self, incident, ic):
        entry = note(incident, ic, body="See [graph](https://grafana.example/d/1)")

        assert 'href="https://grafana.example/d/1"' in reload(entry).body_html


# --- through the page ------------------------------------------------------------------


def test_htmx_timeline_add_returns_blank_form_and_triggers_refresh(client, ic, incident):
    client.force_login(ic)
    response = client.post(url(incident, "timeline/"),
                           {"body": "Rolled back deploy 4711", "kind": "action"}, **HX)
    assert response.status_code == 200
    assert_fragment(response, "timeline-form")
    assert 'id="incident-timeline"' not in html(response)
    assert "Rolled back deploy 4711" not in html(response)
    assert re.search(r'<textarea name="body"[^>]*>\s*</textarea>', html(response))
    assert "timeline-changed" in hx_trigger(response)
    entry = incident.timeline.get(body="Rolled back deploy 4711")
    assert entry.kind == TimelineKind.ACTION
    assert entry.author == ic


def test_htmx_timeline_get_returns_only_the_timeline(client, viewer, incident):
    client.force_login(viewer)
    response = client.get(url(incident, "timeline/"), **HX)
    assert response.status_code == 200
    assert_fragment(response, "incident-timeline")
    assert "Error rate at 40% on checkout-api" in html(response)


def test_plain_post_timeline_add_redirects_back(client, ic, incident):
    client.force_login(ic)
    response = client.post(url(incident, "timeline/"), {"body": "Paged DB team", "kind": "note"})
    assert response.status_code == 302
    assert response["Location"] == url(incident)
    assert incident.timeline.filter(body="Paged DB team").exists()


@pytest.mark.parametrize("body", ["", "   \n  "])
def test_timeline_add_empty_body_is_400_with_error_and_saves_nothing(client, ic, incident, body):
    client.force_login(ic)
    before = snapshot(incident)
    response = client.post(url(incident, "timeline/"), {"body": body, "kind": "note"}, **HX)
    assert response.status_code == 400
    assert_fragment(response, "timeline-form")
    assert "This field is required." in html(response)
    assert "timeline-changed" not in hx_trigger(response)
    assert snapshot(incident) == before


def test_timeline_add_system_kind_is_refused(client, ic, incident):
    client.force_login(ic)
    before = snapshot(incident)
    response = client.post(url(incident, "timeline/"), {"body": "fake", "kind": "resolved"}, **HX)
    assert response.status_code == 400
    assert snapshot(incident) == before


@pytest.mark.parametrize("body", [
    "<script>alert(1)</script>",
    "[x](javascript:alert(1))",
    '<a href="javascript:alert(1)">y</a> <img src=x onerror=alert(1)>',
])
def test_timeline_markup_is_stored_as_typed_and_rendered_harmless(client, ic, incident, body):
    client.force_login(ic)
    client.post(url(incident, "timeline/"), {"body": body, "kind": "note"}, **HX)
    entry = incident.timeline.get(kind=TimelineKind.NOTE, body=body)
    assert entry.body == body
    for response in (client.get(url(incident, "timeline/"), **HX), client.get(url(incident))):
        timeline = section(html(response), 'id="incident-timeline"', "</ol>")
        assert f'id="entry-{entry.pk}"' in timeline
        assert "<script" not in timeline.lower()
        assert "javascript:" not in timeline.lower()
        assert "onerror" not in timeline.lower()
    page = html(client.get(url(incident)))
    assert "<script>alert" not in page
    assert "javascript:" not in page


def test_htmx_entry_edit_get_returns_edit_form_fragment(client, ic, incident, note):
    client.force_login(ic)
    response = client.get(url(incident, f"timeline/{note.pk}/edit/"), **HX)
    assert response.status_code == 200
    assert_fragment(response, f"entry-{note.pk}")
    text = html(response)
    assert re.search(r'<textarea name="body"[^>]*>\s*Error rate at 40% on checkout-api</textarea>',
                     text)
    assert '<input type="hidden" name="version" value="1"' in text


def test_entry_edit_form_ids_name_the_entry_so_they_never_clash_with_the_add_form(
        client, ic, incident, note):
    """The edit form sits on the incident page beside the Add form (`id_body`): its ids,
    and the labels pointing at them, carry the entry (issue 18)."""
    client.force_login(ic)
    shown = html(client.get(url(incident, f"timeline/{note.pk}/edit/"), **HX))
    refused_edit = client.post(url(incident, f"timeline/{note.pk}/edit/"),
                               {"body": "", "kind": "note", "version": 1}, **HX)
    assert refused_edit.status_code == 400
    for text in (shown, html(refused_edit)):
        assert 'id="id_' not in text
        for field in ("body", "kind", "occurred_at"):
            assert f'id="entry-{note.pk}-{field}"' in text
            assert f'for="entry-{note.pk}-{field}"' in text
    assert re.search(rf'<textarea[^>]*aria-invalid="true"[^>]*id="entry-{note.pk}-body"|'
                     rf'<textarea[^>]*id="entry-{note.pk}-body"[^>]*aria-invalid="true"',
                     html(refused_edit))


def test_htmx_entry_edit_post_saves_and_returns_entry_fragment(client, ic, incident, note):
    client.force_login(ic)
    response = client.post(url(incident, f"timeline/{note.pk}/edit/"),
                           {"body": "Error rate at **55%**", "kind": "finding", "version": 1},
                           **HX)
    assert response.status_code == 200
    assert_fragment(response, f"entry-{note.pk}")
    text = html(response)
    assert "<strong>55%</strong>" in text
    assert "<textarea" not in text
    assert "edited" in text
    note.refresh_from_db()
    assert note.body == "Error rate at **55%**"
    assert note.kind == TimelineKind.FINDING
    assert note.version == 2
    assert note.edited_by == ic
    assert note.revisions.get().body == "Error rate at 40% on checkout-api"


def test_plain_post_entry_edit_redirects_back(client, ic, incident, note):
    client.force_login(ic)
    response = client.post(url(incident, f"timeline/{note.pk}/edit/"),
                           {"body": "edited", "kind": "note", "version": 1})
    assert response.status_code == 302
    assert response["Location"] == url(incident)
    note.refresh_from_db()
    assert note.body == "edited"


def test_stale_edit_is_409_showing_their_text_and_keeping_mine(client, ic, manager, incident,
                                                               note):
    services.edit_timeline_entry(note, body="Their newer text", expected_version=1, by=manager)
    client.force_login(ic)
    response = client.post(url(incident, f"timeline/{note.pk}/edit/"),
                           {"body": "My own careful wording", "kind": "note", "version": 1},
                           **HX)
    assert response.status_code == 409
    assert_fragment(response, f"entry-{note.pk}")
    text = html(response)
    assert "Manager changed this entry" in text
    current = section(text, 'class="entry-body current"', "</div>")
    assert "Their newer text" in current
    assert re.search(r'<textarea name="body"[^>]*>\s*My own careful wording</textarea>', text)
    assert '<input type="hidden" name="version" value="2"' in text
    note.refresh_from_db()
    assert note.body == "Their newer text"
    assert note.version == 2
    assert note.revisions.count() == 1


def test_saving_again_after_a_conflict_replaces_their_text(client, ic, manager, incident,
                                                           note):
    services.edit_timeline_entry(note, body="Their newer text", expected_version=1, by=manager)
    client.force_login(ic)
    client.post(url(incident, f"timeline/{note.pk}/edit/"),
                {"body": "My own careful wording", "kind": "note", "version": 1}, **HX)
    response = client.post(url(incident, f"timeline/{note.pk}/edit/"),
                           {"body": "My own careful wording", "kind": "note", "version": 2},
                           **HX)
    assert response.status_code == 200
    note.refresh_from_db()
    assert note.body == "My own careful wording"
    assert list(note.revisions.values_list("body", flat=True)) == [
        "Their newer text", "Error rate at 40% on checkout-api"]


def test_plain_post_stale_edit_is_409_full_page_keeping_my_text(client, ic, manager, incident,
                                                                note):
    services.edit_timeline_entry(note, body="Their newer text", expected_version=1, by=manager)
    client.force_login(ic)
    response = client.post(url(incident, f"timeline/{note.pk}/edit/"),
                           {"body": "My own careful wording", "kind": "note", "version": 1})
    assert response.status_code == 409
    assert_full_page(response)
    assert "Their newer text" in html(response)
    assert "My own careful wording</textarea>" in html(response)
    note.refresh_from_db()
    assert note.body == "Their newer text"


def test_edit_of_an_entry_deleted_meanwhile_is_409_keeping_my_text(client, ic, manager,
                                                                   incident, note):
    """The service answers ConflictError("deleted while you were editing"); the user's
    typed text must come back to them, as for any other conflict."""
    services.delete_timeline_entry(note, expected_version=1, by=manager)
    client.force_login(ic)
    response = client.post(url(incident, f"timeline/{note.pk}/edit/"),
                           {"body": "My own careful wording", "kind": "note", "version": 1},
                           **HX)
    assert response.status_code == 409
    assert "deleted while you were editing" in html(response)
    assert "My own careful wording</textarea>" in html(response)
    note.refresh_from_db()
    assert note.body == "Error rate at 40% on checkout-api"
    assert note.deleted_at is not None


def test_entry_of_another_incident_is_404(client, ic, incident, note):
    other = declare_bare(ic, title="Other incident")
    client.force_login(ic)
    assert client.get(url(other, f"timeline/{note.pk}/"), **HX).status_code == 404
    response = client.post(url(other, f"timeline/{note.pk}/edit/"),
                           {"body": "hijack", "kind": "note", "version": 1}, **HX)
    assert response.status_code == 404
    note.refresh_from_db()
    assert note.body == "Error rate at 40% on checkout-api"


def test_timeline_entry_in_the_future_is_refused(client, ic, incident):
    client.force_login(ic)
    before = snapshot(incident)
    future = (timezone.now() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(url(incident, "timeline/"),
                           {"body": "from the future", "kind": "note", "occurred_at": future},
                           **HX)
    assert response.status_code == 400
    assert "Pick a time between" in html(response)
    assert "from the future</textarea>" in html(response)
    assert snapshot(incident) == before


def test_editing_only_the_text_keeps_when_the_entry_happened(client, ic, incident):
    """A browser posts back what the edit form showed: the entry must not move in time."""
    occurred = (timezone.now() - timedelta(minutes=10)).replace(second=37, microsecond=0)
    entry = services.add_timeline_entry(incident, body="DB failover started", by=ic,
                                        occurred_at=occurred)
    client.force_login(ic)
    form_html = html(client.get(url(incident, f"timeline/{entry.pk}/edit/"), **HX))
    shown = re.search(r'name="occurred_at" value="([^"]*)"', form_html).group(1)
    response = client.post(url(incident, f"timeline/{entry.pk}/edit/"),
                           {"body": "DB failover started (primary db-1)", "kind": "note",
                            "occurred_at": shown, "version": 1}, **HX)
    assert response.status_code == 200
    entry.refresh_from_db()
    assert entry.body == "DB failover started (primary db-1)"
    assert entry.occurred_at == occurred


def test_editing_a_system_entry_is_refused(client, ic, incident):
    declared = incident.timeline.get(kind=TimelineKind.DECLARED)
    client.force_login(ic)
    before = snapshot(incident)
    response = client.post(url(incident, f"timeline/{declared.pk}/edit/"),
                           {"body": "rewrite history", "kind": "note", "version": 1}, **HX)
    assert response.status_code == 400
    assert "cannot be edited" in html(response)
    assert snapshot(incident) == before


def test_htmx_delete_is_soft_and_entry_disappears(client, ic, incident, note):
    client.force_login(ic)
    response = client.post(url(incident, f"timeline/{note.pk}/delete/"), {"version": 1}, **HX)
    assert response.status_code == 200
    assert_fragment(response, f"entry-{note.pk}")
    assert "Entry deleted" in html(response)
    note.refresh_from_db()
    assert note.deleted_at is not None
    assert note.deleted_by == ic
    assert note.body == "Error rate at 40% on checkout-api"
    page = html(client.get(url(incident)))
    assert "Error rate at 40% on checkout-api" not in page
    assert f'id="entry-{note.pk}"' not in page
    assert client.get(url(incident, f"timeline/{note.pk}/"), **HX).status_code == 404


def test_plain_post_delete_redirects_back(client, ic, incident, note):
    client.force_login(ic)
    response = client.post(url(incident, f"timeline/{note.pk}/delete/"), {"version": 1})
    assert response.status_code == 302
    assert response["Location"] == url(incident)
    assert TimelineEntry.objects.get(pk=note.pk).deleted_at is not None


def test_stale_delete_is_409_and_keeps_entry(client, ic, manager, incident, note):
    services.edit_timeline_entry(note, body="Their newer text", expected_version=1, by=manager)
    client.force_login(ic)
    response = client.post(url(incident, f"timeline/{note.pk}/delete/"), {"version": 1}, **HX)
    assert response.status_code == 409
    note.refresh_from_db()
    assert note.deleted_at is None


def test_history_fragment_after_edit_shows_previous_text(client, ic, incident, note):
    services.edit_timeline_entry(note, body="Second wording", expected_version=1, by=ic)
    client.force_login(ic)
    response = client.get(url(incident, f"timeline/{note.pk}/history/"), **HX)
    assert response.status_code == 200
    assert_fragment(response, f"entry-{note.pk}")
    text = html(response)
    assert "Second wording" in text
    assert '<pre class="previous">Error rate at 40% on checkout-api</pre>' in text
    assert "Version 1" in text


def test_entry_history_without_htmx_is_a_full_page(client, ic, incident, note):
    services.edit_timeline_entry(note, body="Second wording", expected_version=1, by=ic)
    client.force_login(ic)
    response = client.get(url(incident, f"timeline/{note.pk}/history/"))
    assert response.status_code == 200
    assert_full_page(response)
    assert "Error rate at 40% on checkout-api" in html(response)


def long_timeline(incident, extra):
    """`extra` notes after the incident's own entries, a minute apart, numbered."""
    start = incident.declared_at
    TimelineEntry.objects.bulk_create(
        TimelineEntry(incident=incident, kind=TimelineKind.NOTE, body=f"Shard {n} checked",
                      body_html=f"<p>Shard {n} checked</p>",
                      occurred_at=start + timedelta(seconds=n + 1))
        for n in range(extra))
    return incident.timeline.filter(deleted_at__isnull=True).count()


def test_a_long_timeline_shows_its_latest_entries_and_offers_the_earlier_ones(
        client, viewer, incident):
    total = long_timeline(incident, 150)
    client.force_login(viewer)

    text = html(client.get(url(incident)))

    timeline = section(text, 'id="incident-timeline"', "</ol>")
    assert timeline.count('class="entry ') == 100
    assert "Shard 149 checked" in timeline and "Shard 50 checked" in timeline
    assert "Shard 49 checked" not in timeline
    assert f"Show the {total - 100} earlier entries" in timeline
    assert timeline.index("Shard 50 checked") < timeline.index("Shard 149 checked")


def test_showing_all_entries_keeps_them_all_when_the_timeline_refreshes(
        client, viewer, incident):
    total = long_timeline(incident, 150)
    client.force_login(viewer)

    page = html(client.get(url(incident), {"timeline": "all"}))
    refreshed = client.get(url(incident, "timeline/"), {"timeline": "all"}, **HX)

    for text in (page, html(refreshed)):
        timeline = section(text, 'id="incident-timeline"', "</ol>")
        assert timeline.count('class="entry ') == total
        assert "earlier entr" not in timeline
        assert "Shard 0 checked" in timeline
        assert f'hx-get="{url(incident, "timeline/")}?timeline=all"' in timeline


def test_a_short_timeline_shows_everything_without_the_offer(client, viewer, incident):
    total = long_timeline(incident, 10)
    client.force_login(viewer)

    timeline = section(html(client.get(url(incident))), 'id="incident-timeline"', "</ol>")

    assert timeline.count('class="entry ') == total
    assert "earlier entr" not in timeline
