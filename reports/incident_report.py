"""An incident as a Markdown report (handbook §6.1 `generateReport`).

Summary, timeline, affected services, resolution, in the handbook's shape: one
timeline line per entry, `- **<ISO time>** [author]: kind - details`. Times are UTC
(ISO 8601 with `Z`). Text people typed is Markdown already and goes in as typed;
multi-line text is indented so it stays inside its list item.
"""

from datetime import UTC

from django.utils import timezone

from incidents.models import Severity, Status


def hhmm(duration):
    """`HH:MM`, as §3.5's summary writes a duration; hours run past 24, never wrap."""
    minutes = max(int(duration.total_seconds() // 60), 0)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def iso_utc(moment):
    """`2026-03-01T10:05:00Z`, or an em dash for a moment not reached."""
    if moment is None:
        return "—"
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _person(user, nobody="system"):
    if user is None:
        return nobody
    return " ".join((user.get_full_name() or user.get_username()).split())


def _one_line(text):
    return " ".join((text or "").split())


def _item_text(text):
    """Text for after a `- ` marker: continuation lines indented to stay in the item."""
    lines = (text or "").strip().splitlines()
    if not lines:
        return ""
    rest = ["  " + line if line.strip() else "" for line in lines[1:]]
    return "\n".join([lines[0], *rest])


def incident_report_markdown(incident, *, entries=None, now=None):
    """The report as Markdown text.

    `entries` defaults to the incident's visible (not deleted) timeline, oldest
    first, loaded in one query with the authors; `incident.services` and
    `incident.commander` are best prefetched / selected by the caller.
    """
    if entries is None:
        entries = (incident.timeline.filter(deleted_at__isnull=True).select_related("author")
                   .order_by("occurred_at", "id"))
    now = now or timezone.now()
    severity = Severity(incident.severity)
    duration = hhmm(incident.duration(now))
    if incident.status != Status.RESOLVED:
        duration += " (ongoing)"

    lines = [
        f"# Incident Report: {incident.ref}",
        "",
        "All times are UTC.",
        "",
        "## Summary",
        "",
        f"- **Title**: {_one_line(incident.title)}",
        f"- **Severity**: {severity.label} ({severity.description})",
        f"- **Status**: {incident.get_status_display()}",
        f"- **Duration**: {duration}",
        f"- **Impact**: {_item_text(incident.customer_impact) or 'Not recorded'}",
        f"- **Started**: {iso_utc(incident.started_at)}",
        f"- **Detected**: {iso_utc(incident.detected_at)}",
        f"- **Resolved**: {iso_utc(incident.resolved_at)}",
        f"- **Incident Commander**: {_person(incident.commander, 'unassigned')}",
        "",
        "## Timeline",
        "",
    ]
    timeline = [
        f"- **{iso_utc(e.occurred_at)}** [{_person(e.author)}]: "
        f"{e.get_kind_display()} - {_item_text(e.body)}"
        for e in entries
    ]
    lines += timeline or ["No timeline entries."]
    services = [f"- {_one_line(s.name)}" for s in incident.services.all()]
    lines += ["", "## Affected Services", "", *(services or ["None recorded."])]
    lines += ["", "## Resolution", "", (incident.resolution or "").strip() or "N/A"]
    return "\n".join(lines) + "\n"
