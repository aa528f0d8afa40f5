"""Whether SMS and voice (Twilio) work, on the admin index, for Managers: configured or
not (never a secret: the account SID is masked, the auth token never shown) and the
last error Twilio gave, so a wrong token or sender shows before someone is not paged."""

from django import template
from django.conf import settings

from .. import phone
from ..models import PHONE_KINDS, Notice, Notification
from ..roles import Role, has_role

register = template.Library()


def last_error():
    """(when, text) of the latest SMS/voice send error or failed delivery report."""
    found = []
    for model in (Notification, Notice):
        rows = model.objects.filter(kind__in=PHONE_KINDS)
        sent = rows.exclude(error="").order_by("-sending_at").values_list("sending_at", "error")
        report = rows.exclude(provider_error="").order_by("-provider_status_at") \
            .values_list("provider_status_at", "provider_error")
        found += [row for row in (sent.first(), report.first()) if row and row[0]]
    return max(found, default=None)


@register.inclusion_tag("oncall/admin/_twilio_status.html", takes_context=True)
def twilio_status(context):
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not has_role(user, Role.MANAGER):
        return {"show": False}
    return {"show": True, "configured": phone.configured(), "missing": phone.missing_settings(),
            "sender": settings.TWILIO_FROM_NUMBER,
            "account": phone.masked_sid(settings.TWILIO_ACCOUNT_SID),
            "last_error": last_error(),
            "webhooks": [phone.webhook_url(name) for name in ("sms", "voice", "status")]}
