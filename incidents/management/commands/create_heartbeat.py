"""`manage.py create_heartbeat --name N --integration NAME --interval M [--grace G]`

Prints what it made, then the ping URL alone on the last line, so a script can take
it with `| tail -n 1`. The URL holds the token, which is not stored and cannot be
shown again.
"""

from django.core.management.base import BaseCommand, CommandError

from incidents import heartbeats
from incidents.models import Integration


class Command(BaseCommand):
    help = "Create a heartbeat monitor and print its ping URL (shown only once)."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--integration", required=True,
                            help="The name of the integration its alerts are raised through.")
        parser.add_argument("--interval", required=True, type=int,
                            help="Minutes between expected pings.")
        parser.add_argument("--grace", type=int, default=5,
                            help="Extra minutes allowed before a ping counts as missed "
                                 "(default 5).")

    def handle(self, *args, name, integration, interval, grace, **options):
        target = Integration.objects.filter(name__iexact=integration.strip()).first()
        if target is None:
            raise CommandError(f"No integration named {integration!r}.")
        try:
            heartbeat, token = heartbeats.create_heartbeat(
                name=name, integration=target, interval_minutes=interval, grace_minutes=grace)
        except heartbeats.HeartbeatError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Created heartbeat {heartbeat.name!r} (id {heartbeat.pk}): expects a "
                          f"ping every {interval} min (+{grace} min grace); alerts go through "
                          f"{target.name}.")
        self.stdout.write("Ping URL (GET or POST; shown only now):")
        self.stdout.write(heartbeats.ping_url(token))
