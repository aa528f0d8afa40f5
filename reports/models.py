"""Post-incident reviews (handbook §3.5, §7.1) and weekly on-call handoffs (§2.2, §2.3).

One PIR per resolved incident, due 5 business days after resolution. Writes go
through reports/services/pir.py, which audits every change (PIRChange) and refuses
stale edits through `version`. Handoffs (one per schedule and shift) are written
through reports/services/handoffs.py.
"""

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.urls import reverse
from django.utils import timezone

from incidents.models import Incident, TimelineEntry
from mindweave_ir.inputs import PLANNING_HORIZON, SafeDateTimeField
from mindweave_ir.templatetags.mw import when


class PIRState(models.TextChoices):
    DRAFT = "draft", "Draft"
    IN_REVIEW = "in_review", "In review"
    APPROVED = "approved", "Approved"


class FactorCategory(models.TextChoices):
    """The seven contributing-factor boxes of §3.5."""

    CODE_CHANGE = "code_change", "Code change"
    CONFIG_CHANGE = "config_change", "Configuration change"
    INFRASTRUCTURE = "infrastructure", "Infrastructure issue"
    THIRD_PARTY = "third_party", "Third-party dependency"
    CAPACITY = "capacity", "Capacity/scaling"
    HUMAN_ERROR = "human_error", "Human error"
    PROCESS_GAP = "process_gap", "Process gap"


class RootCauseCategory(models.TextChoices):
    """What kind of cause it was; the repeat-incident rate (§7.1) groups by it."""

    DEPLOYMENT = "deployment", "Bad deployment"
    CONFIGURATION = "configuration", "Configuration"
    CAPACITY = "capacity", "Capacity / resource exhaustion"
    DEPENDENCY = "dependency", "Third-party dependency"
    INFRASTRUCTURE = "infrastructure", "Infrastructure"
    DATABASE = "database", "Database"
    DATA = "data", "Data / migration"
    SECURITY = "security", "Security"
    HUMAN = "human", "Human error"
    PROCESS = "process", "Process gap"
    UNKNOWN = "unknown", "Not yet known"


class PostIncidentReview(models.Model):
    """The review of one incident, edited section by section, approved by a Manager."""

    incident = models.OneToOneField(Incident, on_delete=models.CASCADE, related_name="pir")
    state = models.CharField(max_length=20, choices=PIRState.choices, default=PIRState.DRAFT,
                             db_index=True)
    due_at = SafeDateTimeField(db_index=True, ahead=PLANNING_HORIZON,
                               help_text="5 business days after resolution.")
    impact = models.TextField(blank=True, help_text="Customer and business impact.")
    what_happened = models.TextField(blank=True)
    why_it_happened = models.TextField(blank=True)
    root_cause_category = models.CharField(max_length=20, choices=RootCauseCategory.choices,
                                           default=RootCauseCategory.UNKNOWN, db_index=True)
    customers_affected = models.PositiveIntegerField(null=True, blank=True)
    revenue_impact = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True,
                                         help_text="In dollars.")
    sla_downtime_minutes = models.PositiveIntegerField(null=True, blank=True)
    went_well = models.TextField(blank=True)
    could_improve = models.TextField(blank=True)
    key_entries = models.ManyToManyField(TimelineEntry, blank=True, related_name="+",
                                         help_text="Timeline entries shown in the review.")
    version = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)  # the metrics' version
    submitted_at = models.DateTimeField(null=True, blank=True, editable=False)
    approved_at = models.DateTimeField(null=True, blank=True, editable=False)
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+",
                                    editable=False)
    reminded_on = models.DateField(null=True, blank=True, editable=False,
                                   help_text="Last day a due/overdue reminder went out.")

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "post-incident review"

    def __str__(self):
        return f"PIR {self.incident.ref}"

    def get_absolute_url(self):
        return reverse("reports:pir", args=[self.incident.ref])

    @property
    def is_approved(self):
        return self.state == PIRState.APPROVED

    def is_overdue(self, now=None):
        return not self.is_approved and (now or timezone.now()) > self.due_at

    def milestones(self):
        """§3.5's key timeline, filled from the incident's own timestamps."""
        i = self.incident
        # Opened by an alert (no declarer) or declared by a person: say which.
        opened = ("Alert triggered", i.detected_at) if i.declared_by_id is None \
            else ("Declared", i.declared_at)
        return [
            opened,
            ("Incident acknowledged", i.acknowledged_at),
            ("IC assigned", i.declared_at),
            ("Root cause identified", i.identified_at),
            ("Fix deployed", i.mitigated_at),
            ("Service restored", i.mitigated_at),
            ("Incident closed", i.resolved_at),
        ]


class ReviewPDF(models.Model):
    """The latest rendered PDF of a review, kept beside the fingerprint of what it shows.

    In the database (not on disk) so every web host and worker shares it without a
    shared file system; one row per review, overwritten by each render
    (reports/pdf/store.py decides when a stored one may be served).
    """

    pir = models.OneToOneField(PostIncidentReview, on_delete=models.CASCADE, primary_key=True,
                               related_name="stored_pdf")
    fingerprint = models.CharField(max_length=64)
    content = models.BinaryField()
    rendered_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "stored review PDF"

    def __str__(self):
        return f"PDF of {self.pir_id} ({self.fingerprint[:12]})"


class Why(models.Model):
    """One of the five whys, in order; the fifth is the root cause."""

    pir = models.ForeignKey(PostIncidentReview, on_delete=models.CASCADE, related_name="whys")
    position = models.PositiveSmallIntegerField()
    answer = models.TextField(blank=True)

    class Meta:
        ordering = ["position"]
        verbose_name_plural = "whys"
        constraints = [models.UniqueConstraint(fields=["pir", "position"], name="uniq_why_pos")]

    def __str__(self):
        return f"Why {self.position}"


class ContributingFactor(models.Model):
    pir = models.ForeignKey(PostIncidentReview, on_delete=models.CASCADE,
                            related_name="factors")
    category = models.CharField(max_length=20, choices=FactorCategory.choices)
    contributed = models.BooleanField(default=False)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["pir", "category"],
                                               name="uniq_factor_category")]

    def __str__(self):
        return self.get_category_display()


class Priority(models.TextChoices):
    P0 = "P0", "P0 (immediate)"
    P1 = "P1", "P1 (short term)"
    P2 = "P2", "P2 (long term)"


class ActionKind(models.TextChoices):
    DETECTIVE = "detective", "Detective"
    PREVENTATIVE = "preventative", "Preventative"
    CORRECTIVE = "corrective", "Corrective"


class ActionStatus(models.TextChoices):
    OPEN = "open", "Open"
    IN_PROGRESS = "in_progress", "In progress"
    DONE = "done", "Done"
    WONT_DO = "wont_do", "Won't do"


CLOSED_ACTION_STATUSES = (ActionStatus.DONE, ActionStatus.WONT_DO)


class ActionItem(models.Model):
    """Follow-up work: every item has an owner and a due date (§3.5)."""

    pir = models.ForeignKey(PostIncidentReview, on_delete=models.CASCADE,
                            related_name="action_items")
    priority = models.CharField(max_length=2, choices=Priority.choices, default=Priority.P1)
    kind = models.CharField(max_length=20, choices=ActionKind.choices,
                            default=ActionKind.CORRECTIVE)
    action = models.TextField()
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                              related_name="action_items")
    due_date = models.DateField(db_index=True)
    status = models.CharField(max_length=20, choices=ActionStatus.choices,
                              default=ActionStatus.OPEN, db_index=True)
    link = models.URLField(blank=True, help_text="Ticket or pull request.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    reminded_on = models.DateField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["priority", "due_date", "id"]

    def __str__(self):
        return f"{self.priority} {self.action[:60]}"

    @property
    def is_open(self):
        return self.status not in CLOSED_ACTION_STATUSES

    def is_overdue(self, today=None):
        return self.is_open and self.due_date < (today or timezone.localdate())


class PreventionMeasure(models.Model):
    pir = models.ForeignKey(PostIncidentReview, on_delete=models.CASCADE,
                            related_name="prevention")
    text = models.CharField(max_length=300)
    done = models.BooleanField(default=False)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self):
        return self.text


class PIRChange(models.Model):
    """The audit trail: who changed what in a review, and when."""

    pir = models.ForeignKey(PostIncidentReview, on_delete=models.CASCADE,
                            related_name="changes")
    at = models.DateTimeField(default=timezone.now)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                           related_name="+")
    what = models.TextField()

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self):
        return f"{self.pir} {when(self.at)}: {self.what[:60]}"


# --- Weekly on-call handoffs (handbook §2.2, §2.3) ------------------------------------

class ShiftPhase(models.IntegerChoices):
    START = 1, "Start of shift"
    DURING = 2, "During shift"
    END = 3, "End of shift"


class ShiftChecklistTemplate(models.Model):
    """One item of the on-call checklist (§2.3). Managers edit these in the admin;
    each new shift copies the active ones, so editing never rewrites a past shift."""

    phase = models.PositiveSmallIntegerField(choices=ShiftPhase.choices)
    text = models.CharField(max_length=200)
    position = models.PositiveSmallIntegerField(default=0)
    active = models.BooleanField(default=True, help_text="Inactive items are not copied "
                                                         "into new shifts.")

    class Meta:
        ordering = ["phase", "position", "id"]
        verbose_name = "shift checklist item"

    def __str__(self):
        return f"{self.get_phase_display()}: {self.text}"


class HandoffState(models.TextChoices):
    DRAFT = "draft", "Draft"
    HANDED_OFF = "handed_off", "Handed off, awaiting acknowledgement"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"


class Handoff(models.Model):
    """One shift of one schedule and its handoff: [shift_start, shift_end) between two of
    the rotation's own handoff instants. The outgoing on-call writes the summary and
    the unresolved issues and hands off; the incoming on-call acknowledges.

    `activity` freezes what the shift gathered (incidents, pages, action items,
    checklist) at the moment of handing off, so the on-call log shows what was
    handed over, not what is true today. Drafts show it live.
    """

    schedule = models.ForeignKey("oncall.Schedule", null=True, on_delete=models.SET_NULL,
                                 related_name="handoffs")
    schedule_name = models.CharField(max_length=100)
    schedule_timezone = models.CharField(max_length=64)
    shift_start = models.DateTimeField()
    shift_end = models.DateTimeField(db_index=True)
    outgoing = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="handoffs_out")
    incoming = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="handoffs_in")
    state = models.CharField(max_length=20, choices=HandoffState.choices,
                             default=HandoffState.DRAFT, db_index=True)
    summary = models.TextField(blank=True, help_text="The shift summary for the on-call log.")
    unresolved = models.TextField("unresolved issues", blank=True,
                                  help_text="What the next on-call must know or finish.")
    activity = models.JSONField(default=dict, blank=True, editable=False,
                                encoder=DjangoJSONEncoder)
    version = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    handed_off_at = models.DateTimeField(null=True, blank=True)
    handed_off_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                      on_delete=models.SET_NULL, related_name="+")
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                        on_delete=models.SET_NULL, related_name="+")
    prepare_reminded_at = models.DateTimeField(null=True, blank=True, editable=False)
    ack_reminded_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-shift_end", "schedule_name"]
        constraints = [
            models.UniqueConstraint(fields=["schedule", "shift_end"],
                                    name="one_handoff_per_shift"),
            models.CheckConstraint(condition=models.Q(shift_start__lt=models.F("shift_end")),
                                   name="handoff_shift_not_empty"),
        ]

    def __str__(self):
        return f"{self.schedule_name} handoff {self.shift_end:%Y-%m-%d %H:%M} UTC"

    def get_absolute_url(self):
        return reverse("reports:handoff", args=[self.pk])

    @property
    def is_draft(self):
        return self.state == HandoffState.DRAFT

    @property
    def awaits_acknowledgement(self):
        return self.state == HandoffState.HANDED_OFF


class ShiftCheck(models.Model):
    """One checklist item of one shift, copied from the template; ticked with who and when."""

    handoff = models.ForeignKey(Handoff, on_delete=models.CASCADE, related_name="checks")
    phase = models.PositiveSmallIntegerField(choices=ShiftPhase.choices)
    text = models.CharField(max_length=200)
    position = models.PositiveSmallIntegerField(default=0)
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["phase", "position", "id"]

    def __str__(self):
        return f"{'[x]' if self.done_at else '[ ]'} {self.text}"
