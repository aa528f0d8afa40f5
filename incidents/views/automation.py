"""Automation rules for everyone to read: what each does, its recent firings, and a dry
run over the last week's alerts. Rules are written by Managers in the admin."""

from django.db.models import Prefetch
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from .. import automation
from .. import matchers as matching
from ..models import AutomationFiring, AutomationRule

RECENT_FIRINGS = 5


@require_GET
def automation_list(request):
    """Each rule with its last firings: one prefetch (sliced per rule), not a query per rule."""
    recent = AutomationFiring.objects.select_related("alert", "incident").order_by(
        "-fired_at", "-id")[:RECENT_FIRINGS]
    rules = list(AutomationRule.objects.select_related("policy").prefetch_related(
        Prefetch("firings", queryset=recent, to_attr="recent")))
    for rule in rules:
        rule.matchers_text = matching.describe(rule.matchers)
    return render(request, "incidents/automations/list.html", {"rules": rules})


@require_GET
def automation_dry_run(request, pk):
    rule = get_object_or_404(AutomationRule, pk=pk)
    rows = automation.dry_run(rule)
    return render(request, "incidents/automations/dry_run.html", {
        "rule": rule, "rows": rows, "days": automation.DRY_RUN_DAYS,
        "matchers_text": matching.describe(rule.matchers),
        "would": sum(1 for _, reason, _ in rows if not reason),
    })
