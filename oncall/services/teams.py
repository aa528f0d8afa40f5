"""Teams (handbook §2.1): their writes, and keeping rotations over a team in step.

A schedule may take its rotation's members from a team: the order on the rotation
is kept, new team members are appended, leavers drop out of future shifts (the turn
in progress stays with whoever has it, through services.update_schedule).
"""

import logging

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from ..models import Team, TeamMember
from .schedules import can_manage_schedules, update_schedule

logger = logging.getLogger("oncall.services")


def team_rotation_members(current, team_members):
    """Rotation order for a schedule that takes its members from a team: people already
    on the rotation keep their order, new team members are appended (in team order),
    leavers are dropped."""
    in_team = {u.pk for u in team_members}
    kept = [u for u in current if u.pk in in_team]
    kept_ids = {u.pk for u in kept}
    return kept + [u for u in team_members if u.pk not in kept_ids]


@transaction.atomic
def save_team(team, *, name, members, by, description="", lead=None, now=None):
    """Create (team=None) or change a team; schedules rotating over it follow."""
    if not can_manage_schedules(by):
        raise PermissionDenied("Only Incident Commanders and Managers change teams.")
    members = list(members)
    if len({u.pk for u in members}) != len(members):
        raise ValidationError({"members": "A person can appear only once in a team."})
    inactive = [u.get_username() for u in members if not u.is_active]
    if inactive:
        raise ValidationError({"members": f"Not active: {', '.join(inactive)}."})
    team = Team() if team is None else Team.objects.select_for_update().get(pk=team.pk)
    created = team.pk is None
    team.name, team.description, team.lead = name, description, lead
    team.full_clean()
    team.save()
    if [m.user_id for m in team.members.order_by("position")] != [u.pk for u in members]:
        team.members.all().delete()
        TeamMember.objects.bulk_create(TeamMember(team=team, user=u, position=i)
                                       for i, u in enumerate(members))
        sync_team_schedules(team, by=by, now=now)
    logger.info("team %s %s by %s", team.pk, "created" if created else "updated", by)
    return team


def sync_team_schedules(team, *, by, now=None):
    """Bring every rotation that takes its members from `team` in step with it; the
    turn in progress stays with whoever has it (leavers leave future shifts only)."""
    users = team.member_users()
    for schedule in team.schedules.all():
        current = [m.user for m in schedule.members.select_related("user").order_by("position")]
        wanted = team_rotation_members(current, users)
        if [u.pk for u in wanted] == [u.pk for u in current]:
            continue
        if not wanted:
            raise ValidationError({"members": f"Schedule “{schedule}” takes its members "
                                              "from this team: it cannot be empty."})
        update_schedule(schedule, members=wanted, by=by, keep_shift=True, now=now)


@transaction.atomic
def delete_team(team, *, by):
    if not can_manage_schedules(by):
        raise PermissionDenied("Only Incident Commanders and Managers delete teams.")
    logger.info("team %s (%s) deleted by %s", team.pk, team.name, by)
    team.delete()
