# Alert's indexes of one column that others lead with: each is written by every alert
# a storm brings, and read by nothing the others do not serve (issue 19).

import django.db.models.deletion
from django.db import migrations, models

INTEGRATION_INDEX = "incidents_alert_integration_id_def79c52"


class Migration(migrations.Migration):

    dependencies = [
        ('incidents', '0018_alert_group_latest'),
    ]

    operations = [
        migrations.AlterField(
            model_name='alert',
            name='group_hash',
            field=models.CharField(editable=False, max_length=64),
        ),
        # The index alone: Django's AlterField would also drop and re-add the foreign key,
        # which checks every alert again while writes wait.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='alert',
                    name='integration',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='alerts', to='incidents.integration'),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{INTEGRATION_INDEX}"',
                    f'CREATE INDEX "{INTEGRATION_INDEX}" ON "incidents_alert" ("integration_id")',
                ),
            ],
        ),
    ]
