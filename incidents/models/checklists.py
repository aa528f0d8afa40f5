"""The §3.2 / §3.4 checklists as copied onto one incident (the items: checklists.py)."""

from django.conf import settings
from django.db import models

from .. import checklists
from .incident import Incident


class ChecklistPhase(models.TextChoices):
    TRIAGE = checklists.TRIAGE, checklists.PHASE_LABELS[checklists.TRIAGE]
    RESTORATION = checklists.RESTORATION, checklists.PHASE_LABELS[checklists.RESTORATION]
    VERIFICATION = checklists.VERIFICATION, checklists.PHASE_LABELS[checklists.VERIFICATION]
    CLOSURE = checklists.CLOSURE, checklists.PHASE_LABELS[checklists.CLOSURE]


class ChecklistItem(models.Model):
    """One step of §3.2 / §3.4 on one incident: ticked (who, when) or waived (why)."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="checklist")
    phase = models.CharField(max_length=20, choices=ChecklistPhase.choices)
    position = models.PositiveSmallIntegerField()
    text = models.CharField(max_length=200)
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    waived_reason = models.TextField(blank=True)
    system_reason = models.CharField(
        max_length=300, blank=True,
        help_text="Why the system ticked it, having observed it happen; empty when a "
                  "person ticked it.",
    )

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["incident", "position"], name="uniq_checklist_pos")
        ]

    def __str__(self):
        return self.text

    @property
    def is_done(self):
        return self.done_at is not None

    @property
    def ticked_by_system(self):
        return self.is_done and bool(self.system_reason)

    @property
    def is_settled(self):
        """Ticked, or waived with a reason: what resolving needs of closure items."""
        return self.is_done or bool(self.waived_reason)
