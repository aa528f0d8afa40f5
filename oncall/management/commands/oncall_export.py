"""`manage.py oncall_export`: teams, schedules and escalation policies as the YAML
`oncall_apply` reads (handbook §2.1 plus `teams:`); export then apply changes nothing."""

from django.core.management.base import BaseCommand

from oncall import ascode


class Command(BaseCommand):
    help = "Print teams, schedules and escalation policies in the oncall_apply format."

    def handle(self, *args, **options):
        self.stdout.write(ascode.dump(ascode.export_document()), ending="")
