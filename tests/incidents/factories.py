"""factory_boy factories for the incidents app, with deterministic values.

Incidents are made through `services.declare_incident`, never by saving the model,
because declaring is what numbers the incident, names its channel, copies the
checklists onto it and writes the "declared" timeline entry.
"""

import factory
from django.utils.text import slugify

from incidents.models import DetectionSource, Incident, Service, Severity
from incidents.services import add_timeline_entry, declare_incident


class ServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Service

    name = factory.Sequence(lambda n: f"Service {n:03d}")
    slug = factory.LazyAttribute(lambda service: slugify(service.name))
    description = "A component incidents can affect."


class IncidentFactory(factory.Factory):
    """Declares an incident; `by` (the declaring user) must be given."""

    class Meta:
        model = Incident

    title = factory.Sequence(lambda n: f"Checkout API returning errors {n:03d}")
    severity = Severity.SEV2
    description = "Customers see HTTP 500 on checkout."
    customer_impact = "Some customers cannot pay."
    detection_source = DetectionSource.DATADOG

    @classmethod
    def _build(cls, model_class, *args, **kwargs):
        raise TypeError("Incidents are only made by declaring them; use create() or declare().")

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return declare_incident(**kwargs)


def declare(by, **overrides):
    """Declare an incident as `by`, with the factory's values unless overridden."""
    return IncidentFactory(by=by, **overrides)


def note(incident, by, body="Restarted the checkout pods.", **kwargs):
    """Add a hand-written timeline entry through the service."""
    return add_timeline_entry(incident, body=body, by=by, **kwargs)
