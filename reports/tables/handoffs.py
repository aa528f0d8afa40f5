"""The on-call log's table (the handoff index)."""

import django_tables2 as tables
from django.utils.html import format_html

from mindweave_ir.tables import WhenColumn
from mindweave_ir.templatetags.mw import person

from ..models import Handoff


class HandoffTable(tables.Table):
    """The on-call log: one row per shift handed over (or being prepared)."""

    shift_end = WhenColumn(verbose_name="Handoff", linkify=True)
    schedule_name = tables.Column(verbose_name="Schedule")
    outgoing = tables.Column(verbose_name="Outgoing", order_by=("outgoing__first_name",
                                                                 "outgoing__username"))
    incoming = tables.Column(verbose_name="Incoming", order_by=("incoming__first_name",
                                                                 "incoming__username"))
    state = tables.Column()
    summary = tables.Column(orderable=False)
    acknowledged_at = WhenColumn(verbose_name="Acknowledged")

    class Meta:
        model = Handoff
        fields = ("shift_end", "schedule_name", "outgoing", "incoming", "state", "summary",
                  "acknowledged_at")
        order_by = ("-shift_end",)
        attrs = {"class": "table"}
        empty_text = "No handoffs match these filters."

    def render_outgoing(self, value):
        return person(value)

    def render_incoming(self, value):
        return person(value)

    def render_state(self, value, record):
        return format_html('<span class="badge handoff-{}">{}</span>', record.state, value)

    def render_summary(self, value):
        return value if len(value) <= 120 else value[:119] + "…"
