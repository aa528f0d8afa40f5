"""The incident list's and the alert list's tables (django-tables2); the incident table
also feeds the CSV export."""

import django_tables2 as tables
from django.utils.html import format_html

from mindweave_ir.tables import WhenColumn
from mindweave_ir.templatetags.mw import display_name

from .models import Alert, Incident, Severity
from .templatetags.incident_tags import exercise_badge


class IncidentTable(tables.Table):
    """The full incident list; the same columns feed the CSV export."""

    ref = tables.Column(verbose_name="ID", linkify=True)
    title = tables.Column()
    severity = tables.Column()
    status = tables.Column()
    commander = tables.Column(verbose_name="Commander", order_by=("commander__first_name",
                                                                   "commander__username"))
    services = tables.ManyToManyColumn(orderable=False, verbose_name="Services")
    detected_at = WhenColumn(verbose_name="Detected")
    resolved_at = WhenColumn(verbose_name="Resolved")

    class Meta:
        model = Incident
        fields = ("ref", "title", "severity", "status", "commander", "services",
                  "detected_at", "resolved_at")
        order_by = ("-detected_at",)
        attrs = {"class": "table"}
        empty_text = "No incidents match these filters."

    def render_severity(self, value, record):
        return format_html('<span class="badge sev-{}">{}</span>{}', record.severity,
                           Severity(record.severity).label, exercise_badge(record))

    def value_title(self, record):
        return f"[TEST] {record.title}" if record.is_exercise else record.title

    def render_status(self, value, record):
        return format_html('<span class="badge status-{}">{}</span>', record.status, value)

    def render_commander(self, value):
        return display_name(value)

    def value_severity(self, record):
        return Severity(record.severity).label

    def value_status(self, record):
        return record.get_status_display()

    def value_detected_at(self, value):
        return value.isoformat() if value else ""

    def value_resolved_at(self, value):
        return value.isoformat() if value else ""

    def value_commander(self, value):
        return value.get_username() if value else ""

    def value_services(self, record):
        return ", ".join(s.name for s in record.services.all())


class AlertTable(tables.Table):
    """The alert list: what came in, from where, and where it went (and why)."""

    last_received_at = WhenColumn(verbose_name="Last received")
    status = tables.Column()
    severity = tables.Column()
    summary = tables.Column()
    integration = tables.Column(order_by=("integration__name",))
    key = tables.Column(verbose_name="Key")
    count = tables.Column(verbose_name="Messages")
    incident = tables.Column(verbose_name="Incident", order_by=("incident__ref",))
    routing = tables.Column(verbose_name="Why", orderable=False)

    class Meta:
        model = Alert
        fields = ("last_received_at", "status", "severity", "summary", "integration", "key",
                  "count", "incident", "routing")
        order_by = ("-last_received_at",)
        attrs = {"class": "table alerts"}
        empty_text = "No alerts match these filters."

    def render_status(self, value, record):
        return format_html('<span class="badge alert-{}">{}</span>', record.status, value)

    def render_severity(self, value, record):
        return format_html('<span class="badge sev-{}">{}</span>', record.severity, value)

    def render_key(self, value):
        return format_html("<code>{}</code>", value[:40])

    def render_incident(self, value):
        return format_html('<a href="{}">{}</a>', value.get_absolute_url(), value.ref)
