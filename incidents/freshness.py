"""No cached fragment outlives what it shows (issue 19).

Pages cache their costly fragments keyed by live versions (mindweave_ir/live): the
incident's topic for its page, DASHBOARD for lists of incidents. Every service write
bumps them; this module covers what fragments show that is saved elsewhere — a
person's name (users are edited in the admin, profiles, sign-in), a service's name,
and any incident or timeline entry saved outside a service (the admin, a data fix) —
so such a save moves the versions too. A bump inside a transaction joins the one
the transaction already queued (versions.bump), so a service's own saves cost
nothing more.
"""

from django.contrib.auth import get_user_model
from django.db.models.signals import m2m_changed, post_delete, post_save

from mindweave_ir.live import versions

from .models import Incident, Integration, Service, TimelineEntry

# Saves that change no name: a sign-in's last_login (Django's update_last_login).
NAMELESS_SAVES = frozenset({"last_login"})


def _names(sender, update_fields=None, **kwargs):
    """A person, service or integration renamed: every page naming them (DASHBOARD is
    bumped with every topic) and every incident page (keyed by NAMES too). A sign-in
    does not rebuild every incident page's cache."""
    if update_fields and set(update_fields) <= NAMELESS_SAVES:
        return
    versions.bump(versions.NAMES)


def _roles(sender, action, **kwargs):
    """Someone given or taken a role (their groups): the people an incident page
    offers for its roles, and what the viewer may do there, change."""
    if action.startswith("post_"):
        versions.bump(versions.NAMES)


def _incident(sender, instance, **kwargs):
    versions.bump(versions.incident_key(instance.pk))


def _incident_links(sender, instance, reverse, pk_set, **kwargs):
    """Services or responders added to or taken from an incident, from either side."""
    pks = set(pk_set or ()) if reverse else {instance.pk}
    versions.bump(*(versions.incident_key(pk) for pk in pks))


def _entry(sender, instance, **kwargs):
    versions.bump(versions.incident_key(instance.incident_id))


def connect():
    for model in (get_user_model(), Service, Integration):
        post_save.connect(_names, sender=model, dispatch_uid=f"fresh-{model._meta.label}")
        post_delete.connect(_names, sender=model, dispatch_uid=f"fresh-del-{model._meta.label}")
    m2m_changed.connect(_roles, sender=get_user_model().groups.through,
                        dispatch_uid="fresh-user-groups")
    post_save.connect(_incident, sender=Incident, dispatch_uid="fresh-incident")
    post_delete.connect(_incident, sender=Incident, dispatch_uid="fresh-del-incident")
    m2m_changed.connect(_incident_links, sender=Incident.services.through,
                        dispatch_uid="fresh-incident-services")
    m2m_changed.connect(_incident_links, sender=Incident.responders.through,
                        dispatch_uid="fresh-incident-responders")
    post_save.connect(_entry, sender=TimelineEntry, dispatch_uid="fresh-entry")
