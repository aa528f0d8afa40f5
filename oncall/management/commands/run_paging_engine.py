"""`manage.py run_paging_engine`: escalation and page notifications, from the database.

Run one beside the web and Celery processes, or several on several hosts: engines
claim each step and each notification, so none runs twice (oncall/engine.py).
SIGTERM or Ctrl-C lets the sends in progress finish, then exits.
"""

import signal

from django.core.management.base import BaseCommand, CommandError

from oncall.engine import PagingEngine


class Command(BaseCommand):
    help = ("Run the paging engine: due escalation steps and page notifications, found "
            "in the database (no broker needed). Run any number.")

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=None,
                            help="Seconds between loops (default PAGING_ENGINE_INTERVAL_MS).")
        parser.add_argument("--threads", type=int, default=None,
                            help="Notification send threads (default PAGING_SEND_THREADS).")

    def handle(self, *args, interval=None, threads=None, **options):
        if interval is not None and not 0.05 <= interval <= 10:
            raise CommandError("--interval must be between 0.05 and 10 seconds.")
        if threads is not None and threads < 1:
            raise CommandError("--threads must be at least 1.")
        engine = PagingEngine(interval=interval, threads=threads)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: engine.stop())
        self.stdout.write(f"Paging engine {engine.name}: loop every {engine.interval:g} s, "
                          f"{engine.senders.size} send threads. Ctrl-C stops it.")
        engine.run()
