"""Login rate limiting (django-axes): five wrong passwords for one username from one
address lock that pair out with a 429 and a clear page, for the cool-off time."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

pytestmark = pytest.mark.django_db
LOGIN = "/accounts/login/"


def attempt(client, username, password, ip="198.51.100.7"):
    return client.post(LOGIN, {"username": username, "password": password},
                       REMOTE_ADDR=ip)


def test_five_wrong_passwords_lock_the_username_out_even_with_the_right_one(client, ic):
    for _ in range(4):
        assert attempt(client, "ic", "wrong").status_code == 200  # the form again
    locked = attempt(client, "ic", "wrong")
    right = attempt(client, "ic", "pw-for-tests-only")

    assert locked.status_code == 429 and right.status_code == 429
    assert "Too many failed log-ins" in right.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_lock_is_per_username_and_address(client, ic, viewer):
    for _ in range(5):
        attempt(client, "ic", "wrong")

    assert attempt(client, "viewer", "pw-for-tests-only").status_code == 302
    client.logout()
    assert attempt(client, "ic", "pw-for-tests-only", ip="203.0.113.9").status_code == 302


def test_the_lock_lifts_after_the_cool_off_and_a_success_resets_the_count(client, ic):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        for _ in range(5):
            attempt(client, "ic", "wrong")
        assert attempt(client, "ic", "pw-for-tests-only").status_code == 429
        clock.shift(timedelta(minutes=16))

        assert attempt(client, "ic", "pw-for-tests-only").status_code == 302
        client.logout()
        for _ in range(4):
            attempt(client, "ic", "wrong")
        assert attempt(client, "ic", "pw-for-tests-only").status_code == 302
