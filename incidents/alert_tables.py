import django_tables2 as tables
from django.utils.html import format_html

from mindweave_ir.tables import WhenColumn

from .models import Alert


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
