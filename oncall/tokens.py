"""Secret tokens (integration, heartbeat, calendar and API tokens): made, stored hashed,
replaced. A token is shown once when made and never stored; its SHA-256 is."""

import hashlib
import secrets

from django.db import transaction


def new_token():
    return secrets.token_urlsafe(32)


def hash_token(token):
    """The stored form of a secret token: its SHA-256, looked up by equality, so no
    comparison of the secret itself can leak its prefix through timing."""
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(row, prefix_length=8):
    """Give `row` (a model with `token_hash` and `token_prefix`) a fresh secret token,
    not saved; returns the token, which is shown once and never stored."""
    token = new_token()
    row.token_hash = hash_token(token)
    row.token_prefix = token[:prefix_length]
    return token


@transaction.atomic
def reissue_token(row):
    """Replace a saved `row`'s token under its row lock (the old one stops working at
    once); returns the new one, shown once."""
    locked = type(row).objects.select_for_update().get(pk=row.pk)
    token = issue_token(locked)
    locked.save(update_fields=["token_hash", "token_prefix"])
    return token
