"""The handoff panel on the IC dashboard: handoffs to acknowledge, to prepare, awaiting."""

from django.db.models import Min, Q

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
    # The panel changes by time alone when the next of the viewer's drafts comes
    # within the preparation lead: the dashboard is kept only until then.
    later = (Handoff.objects.filter(state=HandoffState.DRAFT, outgoing=user,
                                    shift_end__gt=now + prepare_lead())
             .aggregate(first=Min("shift_end"))["first"])
    return {
        "to_acknowledge": [h for h in awaiting if h.incoming_id == user.pk],
        "awaiting": [h for h in awaiting if h.incoming_id != user.pk],
        "to_prepare": list(to_prepare),
        "valid_until": later - prepare_lead() if later else None,
    }
