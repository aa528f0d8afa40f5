"""The incidents part of the JSON API: list and filter, read one with its timeline,
declare, add a timeline entry, move the status. Thin: every write is a services/
call with the token's person as `by`, so permissions are the dashboard's."""

from datetime import datetime
from typing import Annotated

from ninja import Field, Query, Router, Schema
from ninja import Status as Answer
from ninja.pagination import LimitOffsetPagination, paginate
from pydantic import AfterValidator

from mindweave_ir.inputs import MAX_OFFSET, check_text, search_date

from . import services
from .filters import IncidentFilter
from .models import (
    MANUAL_KINDS,
    MAX_ENTRY_LENGTH,
    DetectionSource,
    Incident,
    Service,
    Severity,
    Status,
)
from .views.common import incident_or_404

router = Router()

KINDS = [k.value for k in MANUAL_KINDS]

# A filter time out of any sane range is not applied (it is never stored).
SearchTime = Annotated[datetime | None, AfterValidator(search_date)]


class Pages(LimitOffsetPagination):
    """limit/offset as ninja reads them, clamped: an offset past any real list (twenty
    digits overflow a bigint) is simply an empty page; a page holds at most MAX_LIMIT."""

    MAX_LIMIT = 1000

    def paginate_queryset(self, queryset, pagination, request, **params):
        pagination.offset = min(pagination.offset, MAX_OFFSET)
        pagination.limit = min(pagination.limit, self.max_limit, self.MAX_LIMIT)
        return super().paginate_queryset(queryset, pagination, request, **params)


class ErrorOut(Schema):
    detail: str


class IncidentOut(Schema):
    ref: str
    title: str
    severity: int = Field(description="1 (SEV-1, worst) to 4")
    severity_label: str
    status: str
    commander: str | None
    services: list[str]
    customer_impact: str
    started_at: datetime
    detected_at: datetime
    declared_at: datetime
    acknowledged_at: datetime | None
    identified_at: datetime | None
    resolved_at: datetime | None
    url: str

    @staticmethod
    def resolve_severity_label(obj):
        return Severity(obj.severity).label

    @staticmethod
    def resolve_commander(obj):
        return obj.commander.get_username() if obj.commander else None

    @staticmethod
    def resolve_services(obj):
        return [s.slug for s in obj.services.all()]

    @staticmethod
    def resolve_url(obj):
        return obj.get_absolute_url()


class EntryOut(Schema):
    id: int
    kind: str
    body: str
    author: str | None
    occurred_at: datetime
    version: int

    @staticmethod
    def resolve_author(obj):
        return obj.author.get_username() if obj.author else None


class IncidentDetailOut(IncidentOut):
    description: str
    resolution: str
    timeline: list[EntryOut]

    @staticmethod
    def resolve_timeline(obj):
        return obj.visible_entries


class IncidentFilterIn(Schema):
    status: list[Status] = Field(default=[], description="Repeat to match several.")
    severity: list[int] = Field(default=[], description="1 to 4; repeat to match several.")
    service: str | None = Field(default=None, description="A service slug.")
    q: str | None = Field(default=None, description="An INC id, or text in title/description.")
    detected_after: SearchTime = None
    detected_before: SearchTime = None


class DeclareIn(Schema):
    title: str = Field(min_length=1, max_length=200)
    severity: int = Field(ge=1, le=4)
    description: str = ""
    customer_impact: str = ""
    services: list[str] = Field(default=[], description="Service slugs.")
    detection_source: DetectionSource = DetectionSource.OTHER


class EntryIn(Schema):
    body: str = Field(min_length=1, max_length=MAX_ENTRY_LENGTH)
    kind: str = Field(default="note", description=f"One of {', '.join(KINDS)}.")


class TransitionIn(Schema):
    to: Status
    note: str = ""
    resolution: str = Field(default="", description="Required to resolve.")


def _incidents():
    return Incident.objects.select_related("commander").prefetch_related("services")


def _detail(incident):
    incident.visible_entries = list(incident.timeline.filter(deleted_at__isnull=True)
                                    .select_related("author").order_by("occurred_at", "id"))
    return incident


@router.get("", response=list[IncidentOut], summary="List incidents, newest first")
@paginate(Pages)
def list_incidents(request, filters: Query[IncidentFilterIn]):
    check_text(filters.q or "", filters.service or "")
    data = {key: value for key, value in filters.dict().items() if value not in (None, [])}
    if "service" in data:
        data["service"] = Service.objects.filter(slug=data["service"]).values_list(
            "pk", flat=True).first() or 0
    filterset = IncidentFilter(data, queryset=_incidents().order_by("-detected_at", "-id"))
    return filterset.qs if filterset.is_valid() else Incident.objects.none()


@router.get("/{ref}/", response={200: IncidentDetailOut, 404: ErrorOut},
            summary="One incident with its timeline")
def get_incident(request, ref: str):
    return _detail(incident_or_404(ref, _incidents()))


@router.post("", response={201: IncidentDetailOut, 400: ErrorOut, 403: ErrorOut},
             summary="Declare an incident (pages on-call as the dashboard does)")
def declare(request, body: DeclareIn):
    found = {s.slug: s for s in Service.objects.filter(slug__in=body.services)}
    unknown = [slug for slug in body.services if slug not in found]
    if unknown:
        return Answer(400, {"detail": f"Unknown service(s): {', '.join(unknown)}."})
    incident = services.declare_incident(
        title=body.title, severity=body.severity, by=request.auth,
        description=body.description, customer_impact=body.customer_impact,
        services=list(found.values()), detection_source=body.detection_source)
    return Answer(201, _detail(incident_or_404(incident.ref, _incidents())))


@router.post("/{ref}/timeline/", response={201: EntryOut, 400: ErrorOut, 403: ErrorOut,
                                           404: ErrorOut},
             summary="Add a timeline entry (note, action or finding)")
def add_entry(request, ref: str, body: EntryIn):
    if body.kind not in KINDS:
        return Answer(400, {"detail": f"kind must be one of {', '.join(KINDS)}."})
    entry = services.add_timeline_entry(incident_or_404(ref, _incidents()), body=body.body,
                                        kind=body.kind, by=request.auth)
    return Answer(201, entry)


@router.post("/{ref}/transition/", response={200: IncidentDetailOut, 400: ErrorOut,
                                             403: ErrorOut, 404: ErrorOut, 409: ErrorOut},
             summary="Move the status on (resolving needs a resolution)")
def transition(request, ref: str, body: TransitionIn):
    incident = incident_or_404(ref, _incidents())
    if body.to == Status.RESOLVED:
        services.resolve_incident(incident, resolution=body.resolution, by=request.auth)
    else:
        services.change_status(incident, to=body.to, by=request.auth, note=body.note)
    return _detail(incident_or_404(ref, _incidents()))
