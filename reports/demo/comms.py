"""Communications in the demo: confirmed status subscribers for every service, and the
handbook's runbooks (seeded by migration) linked to the services they fit, so the
incident page suggests them. Idempotent."""

from incidents.models import Runbook, Subscriber

RUNBOOK_SERVICES = {
    "Service Down": ("api-gateway", "web-app", "payments", "auth", "search"),
    "High Error Rate": ("api-gateway", "web-app", "payments", "notifications"),
    "Database Issues": ("payments", "auth", "data-pipeline", "internal-tools"),
}


def ensure_comms(services):
    for slug, service in services.items():
        Subscriber.objects.get_or_create(service=service,
                                         email=f"status-{slug}@customers.example",
                                         defaults={"confirmed": True})
    for runbook in Runbook.objects.filter(title__in=RUNBOOK_SERVICES):
        runbook.services.add(*(services[slug] for slug in RUNBOOK_SERVICES[runbook.title]
                               if slug in services))
