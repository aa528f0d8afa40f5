"""Repair times stored before user-given times were bounded (issue 16).

A year-1 time typed in a zone east of UTC was stored on PostgreSQL as a BC timestamp,
which psycopg cannot read back: every page showing that incident failed. Those values
(and any other outside year 2..9998) are set to the moment the row was written. Only
rows that are out of range are touched; nothing is read back to do it.
"""

from datetime import UTC, datetime

from django.db import migrations
from django.db.models import F, Q

FLOOR = datetime(2, 1, 1, tzinfo=UTC)
CEILING = datetime(9998, 12, 31, tzinfo=UTC)


def out_of_range(field):
    return Q(**{f"{field}__lt": FLOOR}) | Q(**{f"{field}__gt": CEILING})


def repair(apps, schema_editor):
    entries = apps.get_model("incidents", "TimelineEntry").objects
    entries.filter(out_of_range("occurred_at")).update(occurred_at=F("created_at"))
    revisions = apps.get_model("incidents", "TimelineRevision").objects
    revisions.filter(out_of_range("occurred_at")).update(occurred_at=F("replaced_at"))
    incidents = apps.get_model("incidents", "Incident").objects
    for field in ("started_at", "detected_at"):
        incidents.filter(out_of_range(field)).update(**{field: F("declared_at")})


class Migration(migrations.Migration):
    dependencies = [("incidents", "0012_checklist_system_reason")]

    operations = [migrations.RunPython(repair, migrations.RunPython.noop)]
