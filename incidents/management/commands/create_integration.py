"""`manage.py create_integration --kind alertmanager|events|cloudwatch --name NAME
[--service S]`

Prints what it made, then the token alone on the last line, so a script can take
it with `| tail -n 1`. The token is not stored and cannot be shown again.
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q
from django.urls import reverse

from incidents import ingest
from incidents.models import IntegrationKind, Service


class Command(BaseCommand):
    help = "Create an inbound alert integration and print its token (shown only once)."

    def add_arguments(self, parser):
        parser.add_argument("--kind", required=True, choices=IntegrationKind.values)
        parser.add_argument("--name", required=True)
        parser.add_argument("--service", help="The service's slug or name.")

    def handle(self, *args, kind, name, service=None, **options):
        target = None
        if service:
            target = Service.objects.filter(Q(slug=service) | Q(name__iexact=service)).first()
            if target is None:
                raise CommandError(f"No service with slug or name {service!r}.")
        try:
            integration, token = ingest.create_integration(name=name, kind=kind, service=target)
        except ingest.IntegrationError as exc:
            raise CommandError(str(exc)) from None
        if kind == IntegrationKind.ALERTMANAGER:
            url = settings.SITE_URL + reverse("alertmanager-webhook", args=[token])
            how = f"Alertmanager webhook_configs url: {url}"
        elif kind == IntegrationKind.CLOUDWATCH:
            url = settings.SITE_URL + reverse("cloudwatch-sns", args=[token])
            how = (f"SNS subscription endpoint (protocol HTTPS): {url}\n"
                   "Subscribe it to the SNS topic your CloudWatch alarms notify; it confirms "
                   "itself.")
        else:
            url = settings.SITE_URL + reverse("events-enqueue")
            how = f"POST PagerDuty Events v2 bodies to {url} with this token as routing_key."
        self.stdout.write(f"Created {integration.get_kind_display()} integration "
                          f"{integration.name!r} (id {integration.pk}).")
        self.stdout.write(how)
        self.stdout.write("Token (shown only now):")
        self.stdout.write(token)
