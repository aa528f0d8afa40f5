"""The handoff panel on the IC dashboard: handoffs to acknowledge, to prepare, awaiting."""

from django.db.models import Q

from ..models import Handoff, HandoffState
from ..reminders import prepare_lead

TEMPLATE = "reports/handoffs/_dashboard_panel.html"


def panel(request, now):
    user = request.user
    awaiting = list(Handoff.objects.filter(state=HandoffState.HANDED_OFF)
                    .select_related("outgoing", "incoming").order_by("shift_end")[:20])
    to_prepare = (Handoff.objects.filter(state=HandoffState.DRAFT, outgoing=user)
                  .filter(Q(shift_end__lte=now + prepare_lead()))
                  .select_related("outgoing", "incoming").order_by("shift_end")[:5])
    return {
        "to_acknowledge": [h for h in awaiting if h.incoming_id == user.pk],
        "awaiting": [h for h in awaiting if h.incoming_id != user.pk],
        "to_prepare": list(to_prepare),
    }
