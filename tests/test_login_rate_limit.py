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


def test_spraying_many_usernames_from_one_address_locks_that_address(client, ic, viewer):
    """Issue 16: 20 wrong passwords from one address across 20 usernames (none locked on
    its own) lock the address, even for a right password; other addresses log in."""
    for number in range(19):
        assert attempt(client, f"user{number}", "wrong").status_code == 200
    attempt(client, "user19", "wrong")

    sprayed = attempt(client, "ic", "pw-for-tests-only")
    elsewhere = attempt(client, "viewer", "pw-for-tests-only", ip="203.0.113.9")

    assert sprayed.status_code == 429
    assert "Too many failed log-ins" in sprayed.content.decode()
    assert elsewhere.status_code == 302


def test_the_address_limit_is_a_setting_and_lifts_after_the_cool_off(client, ic, settings):
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 8
    with time_machine.travel(timezone.now(), tick=False) as clock:
        for number in range(7):
            assert attempt(client, f"user{number}", "wrong").status_code == 200
        attempt(client, "user7", "wrong")
        assert attempt(client, "ic", "pw-for-tests-only").status_code == 429
        clock.shift(timedelta(minutes=16))

        assert attempt(client, "ic", "pw-for-tests-only").status_code == 302


def test_an_address_limit_not_above_the_username_limit_fails_the_checks(settings):
    from mindweave_ir.checks import check_login_limits

    settings.LOGIN_ADDRESS_FAILURE_LIMIT = settings.LOGIN_FAILURE_LIMIT
    assert [e.id for e in check_login_limits(None)] == ["mindweave_ir.E002"]
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 20
    assert check_login_limits(None) == []
