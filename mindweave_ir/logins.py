"""Login rate limiting beyond django-axes' per-(username, address) lock (issue 16):
password spraying, one address trying a few passwords on many usernames.

axes 8 compares the largest failure count among its AXES_LOCKOUT_PARAMETERS groups with
one AXES_FAILURE_LIMIT, so an "ip_address" group would lock an address at the same 5
failures as one username. Instead the limit itself is this callable: the usual
LOGIN_FAILURE_LIMIT, or 0 (every attempt refused, a correct password included) once
the address has LOGIN_ADDRESS_FAILURE_LIMIT failures across all usernames within the
cool-off time.
"""

from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone


def address_failures(address):
    """Failed logins from `address` within the cool-off time, whatever the username."""
    since = timezone.now() - settings.AXES_COOLOFF_TIME
    return (AccessAttempt.objects.filter(ip_address=address, attempt_time__gte=since)
            .aggregate(total=Sum("failures_since_start"))["total"] or 0)


def failure_limit(request, credentials=None):
    """AXES_FAILURE_LIMIT: per username and address, unless the address is over its own,
    higher limit."""
    address = getattr(request, "axes_ip_address", None)
    if address and address_failures(address) >= settings.LOGIN_ADDRESS_FAILURE_LIMIT:
        return 0
    return settings.LOGIN_FAILURE_LIMIT


def is_single_sign_on(request, credentials=None):
    """AXES_WHITELIST_CALLABLE: the identity provider's answer (/oidc/callback/) is no
    password guess, so axes neither counts a refused sign-on (someone in no mapped
    group) towards an address's limit, nor refuses one; state, nonce and PKCE guard it."""
    return request is not None and request.path == reverse("oidc_authentication_callback")
