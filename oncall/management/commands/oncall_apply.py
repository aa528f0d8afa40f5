"""`manage.py oncall_apply FILE.yaml [--dry-run] [--prune]`: on-call as code.

Reads the handbook's §2.1 format (plus `teams:`), prints what it changes (or, with
--dry-run, would change), and refuses the whole file, naming file:line, on any error.
"""

from django.core.management.base import BaseCommand, CommandError

from oncall import ascode, services


class Command(BaseCommand):
    help = "Create or update teams, schedules and escalation policies from a YAML file."

    def add_arguments(self, parser):
        parser.add_argument("file", help="The on-call YAML file (handbook §2.1 format).")
        parser.add_argument("--dry-run", action="store_true",
                            help="Print the changes and change nothing.")
        parser.add_argument("--prune", action="store_true",
                            help="Also delete teams, schedules and policies the file does "
                                 "not mention.")

    def handle(self, *args, file, dry_run, prune, **options):
        try:
            with open(file, encoding="utf-8") as handle:
                text = handle.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"{file}: cannot read it ({exc}).") from None
        try:
            plan = ascode.apply_text(text, path=file, dry_run=dry_run, prune=prune,
                                     by=services.CommandLine("oncall_apply"))
        except ascode.FileRefused as exc:
            raise CommandError(f"{exc}\nNothing was changed.") from None
        self.stdout.write(plan.text())
        if dry_run and plan.changes:
            self.stdout.write("Dry run: nothing was changed.")
