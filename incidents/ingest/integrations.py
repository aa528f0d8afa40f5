"""Integrations and their tokens: made, regenerated and looked up by token hash."""

from django.core.exceptions import ValidationError
from django.db import transaction

from mindweave_ir.errors import Refused
from oncall.tokens import hash_token, issue_token, reissue_token

from ..models import Integration, IntegrationKind


class IntegrationError(Refused):
    """A request about integrations the rules refuse (duplicate name ...)."""


@transaction.atomic
def create_integration(*, name, kind, service=None, escalation_policy=None, severity_map=None):
    """Make an integration; returns (integration, token). The token is never stored."""
    name = (name or "").strip()
    if not name:
        raise IntegrationError("An integration needs a name.")
    kind = IntegrationKind(kind)
    if Integration.objects.filter(name__iexact=name).exists():
        raise IntegrationError(f"An integration named {name!r} already exists.")
    integration = Integration(name=name, kind=kind, service=service,
                              escalation_policy=escalation_policy)
    if severity_map is not None:
        integration.severity_map = severity_map
    try:
        integration.clean()
    except ValidationError as exc:
        raise IntegrationError(" ".join(exc.messages)) from None
    token = issue_token(integration)
    integration.save()
    return integration, token


def regenerate_token(integration):
    """Replace the token (the old one stops working at once); returns the new one."""
    return reissue_token(integration)


def integration_for_token(token, kind):
    """The enabled integration of this kind with this token, or None.

    Looked up by the token's hash, so the comparison the database makes is between
    hashes and reveals nothing about the token through its timing.
    """
    if not isinstance(token, str) or not token or len(token) > 200:
        return None
    return (Integration.objects.select_related("service__escalation_policy",
                                               "escalation_policy")
            .filter(token_hash=hash_token(token), kind=kind, enabled=True).first())
