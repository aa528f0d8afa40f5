"""Teams (handbook §2.1: `platform-team`, `platform-team-leads`, ...): people in order.

A schedule's rotation may take its members from a team; services keep the two in
step (see services.sync_team_schedules).
"""

from django.conf import settings
from django.db import models


class Team(models.Model):
    """Named, ordered group of people, optionally with a lead."""

    name = models.CharField(max_length=100, unique=True,
                            help_text="As written in on-call files, e.g. platform-team.")
    description = models.TextField(blank=True)
    lead = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="teams_led")

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def member_users(self):
        """The members' users, in team order."""
        return [m.user for m in self.members.select_related("user").order_by("position")]


class TeamMember(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="team_memberships")
    position = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["team", "position"], name="uniq_team_member_pos"),
            models.UniqueConstraint(fields=["team", "user"], name="uniq_team_member_user"),
        ]

    def __str__(self):
        return f"{self.team}: {self.position}. {self.user}"
