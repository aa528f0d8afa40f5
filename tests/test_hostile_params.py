"""Query parameters and form values no page offers, as an attacker or a mangled link
sends them: a clear refusal or the parameter ignored, never a 500."""

import pytest
from django import forms
from django.contrib.messages import get_messages

from incidents.forms import DeclareForm
from incidents.models import Service
from mindweave_ir.inputs import RowsChoiceField

pytestmark = pytest.mark.django_db

TWENTY_DIGITS = "99999999999999999999"


@pytest.fixture
def as_manager(client, manager):
    client.force_login(manager)
    return client


@pytest.mark.parametrize("start, end", [("0001-01-01", "0001-01-02"),
                                        ("9999-12-30", "9999-12-31")])
def test_a_metrics_period_outside_the_window_is_a_clear_400(as_manager, start, end):
    response = as_manager.get(f"/reports/metrics/?start={start}&end={end}")

    assert response.status_code == 400
    assert "Pick a date between 2000-01-01 and" in response.content.decode()


@pytest.mark.parametrize("path", ["/incidents/", "/incidents/alerts/", "/reports/handoffs/",
                                  "/reports/metrics/"])
@pytest.mark.parametrize("per_page", ["-1", "0", TWENTY_DIGITS, "5"])
def test_the_page_size_is_the_views_own_whatever_the_url_says(as_manager, path, per_page):
    response = as_manager.get(f"{path}?per_page={per_page}&page={TWENTY_DIGITS}")

    assert response.status_code == 200
    table = response.context["table"]
    assert table.paginator.per_page in (25, 50)


@pytest.mark.parametrize("query", [f"due_at__year={TWENTY_DIGITS}", "due_at__year=9999",
                                   "due_at__year=2027&due_at__month=13"])
def test_an_admin_date_hierarchy_out_of_range_is_refused_like_a_bad_lookup(as_manager, query):
    response = as_manager.get(f"/admin/reports/postincidentreview/?{query}")

    assert response.status_code == 302
    assert response["Location"].endswith("?e=1")


def test_an_admin_action_on_ids_that_cannot_be_rows_does_nothing_and_says_so(as_manager):
    response = as_manager.post("/admin/incidents/silence/",
                               {"action": "expire_now", "_selected_action": [TWENTY_DIGITS]})

    assert response.status_code == 302  # back to the list, as Django after any failed action
    assert "the selected rows were not recognised" in " ".join(
        str(m) for m in get_messages(response.wsgi_request))


@pytest.mark.parametrize("value", [TWENTY_DIGITS, "-1", "0", "²"])
def test_a_row_choice_that_cannot_be_a_row_id_is_not_a_valid_value(value):
    Service.objects.create(name="Checkout", slug="checkout")
    field = RowsChoiceField(queryset=Service.objects.all())

    with pytest.raises(forms.ValidationError) as refused:
        field.clean([value])
    assert refused.value.code == "invalid_pk_value"


def test_declaring_with_a_service_id_of_twenty_digits_is_a_field_error():
    form = DeclareForm(data={"title": "x", "services": [TWENTY_DIGITS]})

    assert not form.is_valid()
    assert "is not a valid value" in str(form.errors["services"])
