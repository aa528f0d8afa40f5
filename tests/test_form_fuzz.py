"""Random text into every form of the product never gets a 500 (issue 9).

The demo world is seeded; the forms are found by reading the pages a Manager sees
(every `<form method="post">`, its action and its field names), then hypothesis
posts random text, numbers and empty values in every field, as a plain post and as
HTMX. Any answer is fine but a server error.
"""

import re
from html.parser import HTMLParser

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from incidents.models import Incident, Status
from oncall.models import Schedule
from reports.demo import seed
from reports.models import Handoff, PostIncidentReview
from reports.services import handoffs
from tests.strategies import HOSTILE_STRINGS, form_encoded

pytestmark = pytest.mark.django_db

# Forms whose success logs the manager out or ends the world for later examples.
SKIP_ACTIONS = re.compile(r"/accounts/logout/|/delete/|/revoke/|/calendar-token/")


class Forms(HTMLParser):
    """Collect (action, field names) of every POST form on a page."""

    def __init__(self, page_url):
        super().__init__()
        self.page_url, self.forms, self._current = page_url, [], None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and (attrs.get("method") or "").lower() == "post":
            self._current = (attrs.get("action") or attrs.get("hx-post") or self.page_url, [])
        elif (tag in ("input", "textarea", "select") and self._current
              and attrs.get("name") not in (None, "csrfmiddlewaretoken")):
            self._current[1].append(attrs["name"])

    def handle_endtag(self, tag):
        if tag == "form" and self._current:
            self.forms.append((self._current[0], tuple(sorted(set(self._current[1])))))
            self._current = None


def pages():
    incident = Incident.objects.exclude(status=Status.RESOLVED).order_by("id").first()
    pir = PostIncidentReview.objects.select_related("incident").order_by("id").first()
    schedule = Schedule.objects.order_by("id").first()
    handoff = handoffs.current_handoff(schedule)
    assert incident and pir and handoff and Handoff.objects.exists()
    return ["/incidents/declare/", incident.get_absolute_url(),
            f"/incidents/{incident.ref}/comms/", f"/incidents/{incident.ref}/runbooks/",
            "/oncall/me/", "/oncall/schedules/new/",
            f"/oncall/schedules/{schedule.pk}/", f"/oncall/schedules/{schedule.pk}/edit/",
            pir.get_absolute_url(), handoff.get_absolute_url(), "/incidents/silences/",
            "/incidents/report/", "/incidents/triage/"]


@pytest.fixture
def world(db):
    seed(incidents=14, seed=1, out=lambda line: None)
    client = Client(raise_request_exception=False)
    client.force_login(get_user_model().objects.get(username="manager"))
    found = {}
    for url in pages():
        response = client.get(url)
        assert response.status_code == 200, url
        parser = Forms(url)
        parser.feed(response.content.decode())
        for action, fields in parser.forms:
            if not SKIP_ACTIONS.search(action):
                found.setdefault(action, set()).update(fields)
    # One form per shape of URL (a page has a checklist form per item): the examples
    # spread over the kinds of form, not over fifty checklist items.
    shapes = {}
    for action in sorted(found):
        shapes.setdefault(re.sub(r"\d+", "N", action), action)
    assert len(shapes) >= 20, sorted(shapes)
    return client, sorted((action, sorted(found[action])) for action in shapes.values())


VALUES = st.one_of(st.text(max_size=40), st.integers(-10**12, 10**12).map(str), HOSTILE_STRINGS,
                   st.sampled_from(["", "0", "-1", "1e9", "9999-99-99T99:99", "2026-02-30",
                                    "<script>x</script>", "' OR 1=1 --", "\x00", "ü" * 300]))


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(data=st.data())
def test_random_input_to_every_form_never_gets_a_500(world, data):
    client, forms = world
    action, fields = data.draw(st.sampled_from(forms), label="form")
    body = {name: data.draw(VALUES, label=name) for name in fields}
    as_htmx = data.draw(st.booleans(), label="htmx")

    response = client.post(action, form_encoded(body),
                           content_type="application/x-www-form-urlencoded",
                           **({"HTTP_HX_REQUEST": "true"} if as_htmx else {}))

    assert response.status_code < 500, (action, body, response.content[:500])
