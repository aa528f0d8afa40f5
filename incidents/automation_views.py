"""Automation rules for everyone to read: what each does, its recent firings, and a dry
run over the last week's alerts. Rules are written by Managers in the admin."""

from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from . import automation
from .automation_models import AutomationFiring, AutomationRule
from .ingest import silences as matching


@require_GET
def automation_list(request):
    rules = list(AutomationRule.objects.select_related("policy"))
    for rule in rules:
        rule.matchers_text = matching.describe(rule.matchers)
        rule.recent = list(AutomationFiring.objects.filter(rule=rule)
                           .select_related("alert", "incident")[:5])
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
