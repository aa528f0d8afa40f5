"""Badges and SLA timers for incidents: the one place colours and wording live."""

from django import template
from django.utils import dateformat, timezone
from django.utils.html import format_html

from incidents.models import Exercise, Severity, Status
from mindweave_ir.templatetags.mw import when

register = template.Library()

SEVERITY_CLASS = {Severity.SEV1: "sev-1", Severity.SEV2: "sev-2",
                  Severity.SEV3: "sev-3", Severity.SEV4: "sev-4"}
STATUS_CLASS = {status: f"status-{status.value}" for status in Status}


@register.simple_tag
def severity_badge(severity):
    sev = Severity(severity)
    return format_html('<span class="badge {}" title="{}">{}</span>',
                       SEVERITY_CLASS[sev], sev.description, sev.label)


@register.simple_tag
def exercise_badge(incident):
    """"TEST" on every row and header of a drill: "TEST" for a test, "TEST · Game day"
    for a game day (issue 17 item 6)."""
    if not incident.is_exercise:
        return ""
    kind = "" if incident.exercise == Exercise.TEST else f" · {incident.get_exercise_display()}"
    return format_html('<span class="badge exercise" title="A drill: people are paged for '
                       'real; left out of the metrics">TEST{}</span>', kind)


@register.simple_tag
def status_badge(status):
    st = Status(status)
    return format_html('<span class="badge {}">{}</span>', STATUS_CLASS[st], st.label)


def _humanize(delta):
    seconds = int(abs(delta.total_seconds()))
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m {seconds}s"


@register.simple_tag
def sla_timer(label, due, done_at=None):
    """An open timer's deadline, counted down in the browser (static/js/app.js reads
    data-deadline: "12m 5s left", "BREACHED 3m 0s ago"), or how it ended.

    What the server writes does not depend on the moment it is rendered ("due 14:05
    EST"), so a fragment cached by version (issue 19) is never out of date; without
    JavaScript the deadline still reads right. Built with format_html: lists show two
    per row.
    """
    title = f"{label} due {dateformat.format(timezone.localtime(due), 'Y-m-d H:i T')}"
    if done_at is not None:
        state = "met" if done_at <= due else "missed"
        text = "met" if state == "met" else f"missed by {_humanize(done_at - due)}"
        return format_html('<span class="sla sla-{}" title="{}">{}: '
                           '<span class="sla-text">{}</span></span>', state, title, label, text)
    return format_html('<span class="sla sla-open" data-deadline="{}" title="{}">{}: '
                       '<span class="sla-text">due {}</span></span>',
                       due.isoformat(), title, label, when(due))
