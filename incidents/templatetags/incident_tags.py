"""Badges and SLA timers for incidents: the one place colours and wording live."""

from django import template
from django.utils import dateformat, timezone
from django.utils.html import format_html

from incidents.models import Exercise, Severity, Status

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
def sla_timer(label, due, done_at=None, now=None):
    """A countdown to `due` (live in the browser via data-deadline), or how it ended.

    Built with format_html rather than an inclusion template: lists show two per row.
    """
    now = now or timezone.now()
    if done_at is not None:
        state = "met" if done_at <= due else "missed"
        text = f"{'met' if state == 'met' else 'missed by ' + _humanize(done_at - due)}"
    elif now > due:
        state, text = "breached", f"BREACHED {_humanize(now - due)} ago"
    else:
        state, text = "running", f"{_humanize(due - now)} left"
    deadline = format_html(' data-deadline="{}"', due.isoformat()) if done_at is None else ""
    title = f"{label} due {dateformat.format(timezone.localtime(due), 'Y-m-d H:i T')}"
    return format_html('<span class="sla sla-{}"{} title="{}">{}: '
                       '<span class="sla-text">{}</span></span>',
                       state, deadline, title, label, text)
