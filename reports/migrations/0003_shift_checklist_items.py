"""The handbook's daily on-call checklist (§2.3), as the starting template."""

from django.db import migrations

ITEMS = {
    1: ["Check the paging app is working and notifications are enabled",
        "Review any ongoing incidents from the previous shift",
        "Check monitoring dashboards for anomalies",
        "Verify access to all critical systems",
        "Review recent deployments and changes"],
    2: ["Respond to all pages within 5 minutes",
        "Keep incident channels updated",
        "Document all actions taken",
        "Escalate if resolution is taking too long"],
    3: ["Hand off any ongoing incidents to the next on-call",
        "Document any unresolved issues",
        "Update the on-call log with a shift summary",
        "Ensure the next on-call has acknowledged the handoff"],
}


def add_items(apps, schema_editor):
    Item = apps.get_model("reports", "ShiftChecklistTemplate")
    if Item.objects.exists():
        return
    Item.objects.bulk_create(Item(phase=phase, text=text, position=position)
                             for phase, texts in ITEMS.items()
                             for position, text in enumerate(texts, start=1))


class Migration(migrations.Migration):
    dependencies = [("reports", "0002_handoffs")]
    operations = [migrations.RunPython(add_items, migrations.RunPython.noop)]
