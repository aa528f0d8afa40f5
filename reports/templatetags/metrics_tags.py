"""The KPI summary on the admin index, for Managers."""

from django import template
from django.utils import timezone

from oncall.roles import Role, has_role

from .. import metrics

register = template.Library()

SUMMARY_DAYS = 30


@register.inclusion_tag("reports/metrics/_admin_summary.html", takes_context=True)
def metrics_summary(context):
    """The §7 KPI cards for the last 30 days (in the viewer's zone), Managers only."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not has_role(user, Role.MANAGER):
        return {"show": False}
    period = metrics.last_days(SUMMARY_DAYS, today=timezone.localdate(),
                               tz=timezone.get_current_timezone())
    population = metrics.in_period(metrics.real_incidents(), period)
    report = metrics.compute(population, period=period, now=timezone.now())
    return {"show": True, "period": period, "days": SUMMARY_DAYS, "report": report,
            "cards": report.cards()}
