"""`manage.py runbooks_apply DIR [--dry-run]`: runbooks (handbook §4) from *.md files."""

from django.core.management.base import BaseCommand, CommandError

from incidents import runbook_files
from oncall.services import CommandLine


class Command(BaseCommand):
    help = "Create or update runbooks from the Markdown files in DIR."

    def add_arguments(self, parser):
        parser.add_argument("directory", help="A folder of *.md runbooks.")
        parser.add_argument("--dry-run", action="store_true",
                            help="Print the changes and change nothing.")

    def handle(self, *args, directory, dry_run, **options):
        try:
            changes, text = runbook_files.apply_dir(
                directory, by=CommandLine("runbooks_apply"), dry_run=dry_run)
        except runbook_files.FilesRefused as exc:
            raise CommandError(f"{exc}\nNothing was changed.") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"Cannot read the runbooks: {exc}") from None
        self.stdout.write(text)
        if dry_run and changes:
            self.stdout.write("Dry run: nothing was changed.")
