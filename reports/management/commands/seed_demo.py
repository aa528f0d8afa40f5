"""`manage.py seed_demo [--incidents N]`: demo users, services and incidents.

The work is in reports.demo; this command reads the arguments, reports progress and
prints the demo logins. Demo data only: the shared password must never reach
production settings.
"""

import time

from django.core.management.base import BaseCommand, CommandError

from reports import demo
from reports.demo.data import LOGINS, PASSWORD, USERS


class Command(BaseCommand):
    help = "Create demo users, services and incidents (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--incidents", type=int, default=40,
                            help="Make sure at least this many incidents exist (default 40).")
        parser.add_argument("--seed", type=int, default=2026,
                            help="Random seed for the generated data.")

    def handle(self, *args, incidents, seed, **options):
        if incidents < 0:
            raise CommandError("--incidents must be 0 or more.")
        started = time.monotonic()
        seeded = demo.seed(incidents=incidents, seed=seed, out=self.stdout.write)
        self.stdout.write(
            f"{seeded.total} incidents ({seeded.added} new) in "
            f"{time.monotonic() - started:.1f} s."
        )
        self.stdout.write(f"Demo logins, password {PASSWORD!r} (demo data only):")
        for username in LOGINS:
            user = seeded.users[username]
            staff = ", admin at /admin/" if user.is_staff else ""
            role = next(u.role for u in USERS if u.username == username)
            self.stdout.write(f"  {username:<10} {role}{staff}")
