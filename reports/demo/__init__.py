"""The demo seeder: demo users, services and incidents for `manage.py seed_demo`
(reports/management/commands/seed_demo.py), its only caller in the app (tests and
the bench use it for data too). Demo data only: like migrations, it may write rows
directly; no app module imports it.

Idempotent. Users, profiles and services are updated in place; incidents are only
added until at least N exist. The first dozen are scripted scenarios played through
incidents.services, exactly as real use writes them, then moved back in time
(scenarios.py). The rest are bulk-inserted for benchmarks (bulk.py; DESIGN.md: 10,000
incidents with 50 timeline entries each, within two minutes on PostgreSQL).
"""

import random
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import CommandError
from django.utils import timezone

from incidents.models import Incident, Service
from oncall.models import Profile
from oncall.roles import Role
from reports.demo.bulk import IncidentGenerator
from reports.demo.comms import ensure_comms
from reports.demo.data import PASSWORD, SERVICES, USERS
from reports.demo.oncall import ensure_oncall
from reports.demo.scenarios import ScenarioPlayer
from reports.demo.shift import seed_shift_pages


@dataclass(frozen=True)
class Seeded:
    """What a run leaves: incidents in total, how many it added, the demo users by name."""

    total: int
    added: int
    users: dict


def seed(*, incidents, seed, out):
    """Make sure the demo users, services and at least `incidents` incidents exist.

    `seed` seeds the random draws of the bulk incidents; `out` is called with each
    progress line.
    """
    # Demo data, not secrets (bandit B311).
    rng = random.Random(seed)  # noqa: S311  # nosec B311
    now = timezone.now()
    users = _ensure_users()
    services = _ensure_services()
    ensure_comms(services)
    ensure_oncall(users, now)
    missing = incidents - Incident.objects.count()
    made = 0
    if missing > 0:
        player = ScenarioPlayer(now=now, users=users, services=services, out=out)
        made = player.play_missing(missing)
    if missing - made > 0:
        generator = IncidentGenerator(rng=rng, now=now, users=users, services=services, out=out)
        generator.generate(missing - made)
    seed_shift_pages(users, now)
    return Seeded(total=Incident.objects.count(), added=max(missing, 0), users=users)


def _ensure_users():
    groups = {g.name: g for g in Group.objects.filter(name__in=[str(r) for r in Role])}
    if len(groups) != len(Role):
        raise CommandError("Role groups are missing: run `manage.py migrate` first.")
    users = {}
    hashed = None
    for spec in USERS:
        user, _ = get_user_model().objects.get_or_create(username=spec.username)
        user.first_name, user.last_name = spec.first_name, spec.last_name
        user.email = f"{spec.username}@mindweave.example"
        user.is_staff, user.is_active = spec.is_staff, True
        # Hashing is slow on purpose (about a second each here): hash the shared demo
        # password once and give every demo user the same hash.
        if hashed is None:
            user.set_password(PASSWORD)
            hashed = user.password
        else:
            user.password = hashed
        user.save()
        user.groups.set([groups[spec.role]])
        Profile.objects.update_or_create(user=user, defaults={"timezone": spec.tz})
        users[spec.username] = user
    return users


def _ensure_services():
    out = {}
    for name, slug, description in SERVICES:
        out[slug], _ = Service.objects.update_or_create(
            slug=slug, defaults={"name": name, "description": description}
        )
    return out
