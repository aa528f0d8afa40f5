"""Status-page updates say what their components show publicly (issue 17 item 3).

Updates published before this get the compose form's default for their incident's
severity (operational for a "resolved" update); the table is copied here so the
migration means the same thing forever.
"""

from django.db import migrations, models

BY_SEVERITY = {1: "major_outage", 2: "partial_outage", 3: "degraded_performance"}


def backfill(apps, schema_editor):
    CommsUpdate = apps.get_model("incidents", "CommsUpdate")
    rows = (CommsUpdate.objects.filter(channel="status_page", component_state="")
            .values_list("pk", "state", "incident__severity"))
    for pk, state, severity in rows.iterator():
        value = "operational" if state == "resolved" else BY_SEVERITY.get(severity, "operational")
        CommsUpdate.objects.filter(pk=pk).update(component_state=value)


class Migration(migrations.Migration):

    dependencies = [
        ('incidents', '0010_ingest_and_page_indexes'),
    ]

    operations = [
        migrations.AddField(
            model_name='commsupdate',
            name='component_state',
            field=models.CharField(blank=True, choices=[('operational', 'Operational'), ('degraded_performance', 'Degraded performance'), ('partial_outage', 'Partial outage'), ('major_outage', 'Major outage')], help_text="Status-page updates only: the state the affected components show publicly while this is the incident's latest published update.", max_length=24),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
