"""The §7 KPIs, computed in the database.

A fixed number of queries whatever the number of incidents: one grouped aggregate
(per month and severity) for counts, SLA, repeats, reviews and mean times, whose
repeat verdicts come from one window-function subquery (`repeat_ids`); one
window-function query per MTTx for medians and 90th percentiles; one for the on-call
load. Python only adds up the grouped rows (at most four a month). PostgreSQL and
SQLite only: time-zone and epoch arithmetic are written for those two.

Per-incident verdicts (SLA met/missed/pending, repeat or first, review on time or
late) are annotations (`annotate_verdicts`), shared by the aggregates and the table
of incidents behind the numbers, so the two always agree.
"""

from collections import defaultdict

from django.db import NotSupportedError
from django.db.models import (
    Avg,
    Case,
    CharField,
    Count,
    DateTimeField,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    Func,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    ValueRange,
    When,
    Window,
)
from django.db.models.functions import Cast, Coalesce, Concat, RowNumber, TruncMonth

from incidents.models import Exercise, Incident, Severity
from oncall.models import Notification

from ..models import PIRState, PostIncidentReview, RootCauseCategory
from .definitions import (
    ALL,
    BUSINESS_END,
    BUSINESS_START,
    MET,
    MISSED,
    REPEAT_WINDOW,
    SLEEP_END,
    SLEEP_START,
    TIME_KPIS,
    percentile_ranks,
)
from .report import DurationStats, MonthRow, PersonLoad, Report

PENDING = "pending"
REPEAT, FIRST = "repeat", "first"
ON_TIME, LATE = "on_time", "late"
KNOWN_CAUSES = [c for c in RootCauseCategory.values if c != RootCauseCategory.UNKNOWN]
TIME_FIELDS = {key: field for key, (field, _) in TIME_KPIS.items()}
DURATION_NAMES = {"mtta": "tta", "mtti": "tti", "mttr": "ttr"}


def real_incidents():
    """Every incident that counts: tests and game days never do."""
    return Incident.objects.filter(exercise=Exercise.REAL)


def in_period(queryset, period):
    return queryset.filter(detected_at__gte=period.start, detected_at__lt=period.end)


def _since_detection(field):
    return ExpressionWrapper(F(field) - F("detected_at"), output_field=DurationField())


def _by_severity(make):
    """A CASE over the four severities, `make(severity)` giving each branch."""
    return Case(*[When(severity=s.value, then=make(s)) for s in Severity],
                output_field=DateTimeField())


def _sla_verdict(done_field, target_name, now):
    """met / missed / pending for one §7.2 clock, as the incident page's timer tells it."""
    due = _by_severity(lambda s: ExpressionWrapper(
        F("detected_at") + getattr(s, target_name), output_field=DateTimeField()))
    overdue_since = _by_severity(lambda s: Value(now - getattr(s, target_name)))
    return Case(
        When(**{f"{done_field}__isnull": False, f"{done_field}__lte": due}, then=Value(MET)),
        When(**{f"{done_field}__isnull": False}, then=Value(MISSED)),
        When(detected_at__lt=overdue_since, then=Value(MISSED)),
        default=Value(PENDING), output_field=CharField(),
    )


class EpochMicroseconds(Func):
    """A datetime as whole microseconds since 1970: a number a RANGE window frame can
    measure 90 days on (SQLite has no interval offsets)."""

    output_field = IntegerField()

    def as_sql(self, compiler, connection, **extra_context):
        raise NotSupportedError("Repeat rates need PostgreSQL or SQLite.")

    def as_postgresql(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"CAST(EXTRACT(EPOCH FROM {sql}) * 1000000 AS bigint)", params

    def as_sqlite(self, compiler, connection, **extra_context):
        # Django's own SQLite function for datetime subtraction, in microseconds.
        sql, params = compiler.compile(self.source_expressions[0])
        return f"django_timestamp_diff({sql}, '1970-01-01 00:00:00')", params


class OffsetRange(ValueRange):
    """RANGE BETWEEN <n> PRECEDING AND ...: PostgreSQL has allowed numeric offsets since
    version 11, but Django still refuses them there, so this frame writes its own."""

    def window_frame_start_end(self, connection, start, end):
        ops = connection.ops
        return (ops.window_frame_value(start) or ops.UNBOUNDED_PRECEDING,
                ops.window_frame_value(end) or ops.UNBOUNDED_FOLLOWING)


def repeat_ids(since=None, until=None):
    """Ids of the real incidents whose cause a real incident had in the 90 days before.

    Two window counts over the reviews naming a cause, partitioned by cause and ordered
    by detection time: those detected from 90 days before up to this one, and those
    detected at this very moment (itself included). More of the first than of the
    second means one came strictly before, within 90 days. Both frames slide, so the
    work is linear (a frame that excluded the current row would be quadratic); the
    query is uncorrelated, so the database runs it once (a hashed subplan). `since`
    and `until` bound the incidents judged; the 90 days before `since` are read too.
    """
    reviews = PostIncidentReview.objects.filter(
        incident__exercise=Exercise.REAL, root_cause_category__in=KNOWN_CAUSES)
    if since is not None:
        reviews = reviews.filter(incident__detected_at__gte=since - REPEAT_WINDOW)
    if until is not None:
        reviews = reviews.filter(incident__detected_at__lt=until)
    window = {"partition_by": [F("root_cause_category")],
              "order_by": [EpochMicroseconds("incident__detected_at").asc()]}
    span = int(REPEAT_WINDOW.total_seconds()) * 1_000_000
    return (
        reviews.annotate(
            within=Window(Count("pk"), frame=OffsetRange(start=-span, end=0), **window),
            same_moment=Window(Count("pk"), frame=ValueRange(start=0, end=0), **window))
        .filter(within__gt=F("same_moment"))
        .values("incident_id")
    )


def repeat_by_row():
    """The repeat verdict of each row on its own: does a real incident with the same
    known cause lie in the 90 days before it (the same rule as repeat_ids)? A
    correlated EXISTS over the detection-time index, asked only of rows whose review
    names a cause: cheap for a page of rows, where repeat_ids' window pass over every
    review would be the page's slowest query."""
    earlier = Incident.objects.filter(
        exercise=Exercise.REAL, pir__root_cause_category=OuterRef("pir__root_cause_category"),
        detected_at__lt=OuterRef("detected_at"),
        detected_at__gte=ExpressionWrapper(OuterRef("detected_at") - Value(REPEAT_WINDOW),
                                           output_field=DateTimeField()))
    return Case(When(pir__root_cause_category__in=KNOWN_CAUSES,
                     then=Case(When(Exists(earlier), then=Value(REPEAT)), default=Value(FIRST))),
                default=None, output_field=CharField())


def annotate_verdicts(queryset, now, period=None):
    """Each incident's times and verdicts, as the KPIs count them (`period`, when
    given, only narrows the reviews read for the repeat verdict).

    tta/tti/ttr: durations from detection (null when the clock never stopped);
    response_sla/resolution_sla: met, missed or pending; repeat: "repeat", "first" or
    null (no review naming a cause); review: "on_time", "late", "pending" or null.
    """
    approved = Q(pir__state=PIRState.APPROVED, pir__approved_at__isnull=False)
    return queryset.annotate(
        tta=_since_detection("acknowledged_at"),
        tti=_since_detection("identified_at"),
        ttr=_since_detection("resolved_at"),
        cause=F("pir__root_cause_category"),
        response_sla=_sla_verdict("acknowledged_at", "response_target", now),
        resolution_sla=_sla_verdict("resolved_at", "resolution_target", now),
        repeat=Case(
            When(pk__in=repeat_ids(*(period.start, period.end) if period else ()),
                 then=Value(REPEAT)),
            When(pir__root_cause_category__in=KNOWN_CAUSES, then=Value(FIRST)),
            default=None, output_field=CharField(),
        ),
        review=Case(
            When(approved & Q(pir__approved_at__lte=F("pir__due_at")), then=Value(ON_TIME)),
            When(approved, then=Value(LATE)),
            When(pir__due_at__lte=now, then=Value(LATE)),
            When(pir__isnull=False, then=Value(PENDING)),
            default=None, output_field=CharField(),
        ),
    )


BEHIND = {
    "mtta": Q(tta__isnull=False),
    "mtti": Q(tti__isnull=False),
    "mttr": Q(ttr__isnull=False),
    "volume": Q(severity__in=[Severity.SEV1, Severity.SEV2]),
    "repeat": Q(repeat__isnull=False),
    "pir": Q(review__in=[ON_TIME, LATE]),
    "sla_response": Q(response_sla__in=[MET, MISSED]),
    "sla_resolution": Q(resolution_sla__in=[MET, MISSED]),
}


def behind(population, kpi, *, now, period=None):
    """The incidents a KPI counted (every one of the population for kpi ""), with
    their verdicts annotated."""
    queryset = (annotate_verdicts(population.filter(exercise=Exercise.REAL), now, period)
                .annotate(repeat=repeat_by_row()))
    return queryset.filter(BEHIND[kpi]) if kpi else queryset


def compute(population, *, period, now):
    """The Report for the incidents of `population` (already cut to the period and the
    filters); exercises are dropped here too, whatever the caller passed."""
    population = population.filter(exercise=Exercise.REAL).order_by()
    return Report(
        period=period,
        months=_months(population, period, now),
        durations={key: _durations(population, key) for key in TIME_KPIS},
        oncall=_oncall_load(population),
    )


def _months(population, period, now):
    """One row per (month, severity) with every count the KPIs need."""
    def count(**lookups):
        return Count("pk", filter=Q(**lookups))

    rows = (
        annotate_verdicts(population, now, period)
        .annotate(month=TruncMonth("detected_at", tzinfo=period.tz))
        .values("month", "severity")
        .annotate(
            incidents=Count("pk"),
            tta_sum=Sum("tta"), tta_n=Count("tta"),
            tti_sum=Sum("tti"), tti_n=Count("tti"),
            ttr_sum=Sum("ttr"), ttr_n=Count("ttr"),
            response_met=count(response_sla=MET), response_missed=count(response_sla=MISSED),
            resolution_met=count(resolution_sla=MET),
            resolution_missed=count(resolution_sla=MISSED),
            # "judged" without the repeat verdict: its window query then runs once.
            repeats=count(repeat=REPEAT), judged=count(pir__root_cause_category__in=KNOWN_CAUSES),
            reviews_on_time=count(review=ON_TIME),
            reviews_due=count(review__in=[ON_TIME, LATE]),
        )
        .order_by()
    )
    return [MonthRow(month=row.pop("month").date(), severity=row.pop("severity"), **row)
            for row in rows]


def _durations(population, key):
    """Mean, median and p90 per severity and over all, from one window query.

    Each row is ranked twice, within its severity and over all; only the rows at the
    median and p90 ranks come back (at most three per scope), with the counts and
    means carried on them.
    """
    field = TIME_FIELDS[key]
    by_severity = {"partition_by": [F("severity")]}
    order = [F("d").asc(), F("pk").asc()]

    def at_ranks(pos, n):
        return (Q(**{pos: (F(n) + 1) / 2}) | Q(**{pos: (F(n) + 2) / 2})
                | Q(**{pos: (F(n) * 9 + 9) / 10}))

    rows = (
        population.filter(**{f"{field}__isnull": False})
        .annotate(d=_since_detection(field))
        .annotate(
            pos_s=Window(RowNumber(), order_by=order, **by_severity),
            n_s=Window(Count("pk"), **by_severity),
            mean_s=Window(Avg("d"), **by_severity),
            pos_a=Window(RowNumber(), order_by=order),
            n_a=Window(Count("pk")),
            mean_a=Window(Avg("d")),
        )
        .filter(at_ranks("pos_s", "n_s") | at_ranks("pos_a", "n_a"))
        .values("severity", "d", "pos_s", "n_s", "mean_s", "pos_a", "n_a", "mean_a")
        .order_by()
    )
    stats, medians = {}, defaultdict(list)
    for row in rows:
        for scope, pos, n, mean in ((row["severity"], row["pos_s"], row["n_s"], row["mean_s"]),
                                    (ALL, row["pos_a"], row["n_a"], row["mean_a"])):
            ranks = percentile_ranks(n)
            entry = stats.setdefault(scope, {"count": n, "mean": mean, "p90": None})
            if pos in ranks["median"]:
                medians[scope].append(row["d"])
            if pos in ranks["p90"]:
                entry["p90"] = row["d"]
    out = {}
    for scope, entry in stats.items():
        values = medians[scope]
        median = sum(values[1:], values[0]) / len(values) if values else None
        out[scope] = DurationStats(median=median, **entry)
    return out


class LocalPart(Func):
    """The hour or ISO weekday (1 = Monday) of a datetime in a time zone named by another
    expression (a column), which Django's Extract cannot do: its zone is a constant.

    PostgreSQL converts with AT TIME ZONE; SQLite uses the function Django registers on
    every SQLite connection for its own Extract (`django_datetime_extract`).
    """

    output_field = IntegerField()
    PARTS = {"hour": "HOUR", "iso_week_day": "ISODOW"}

    def __init__(self, part, expression, zone):
        if part not in self.PARTS:
            raise ValueError(f"Unknown part {part!r}.")
        self.part = part
        super().__init__(expression, zone)

    def as_sql(self, compiler, connection, **extra_context):
        raise NotSupportedError("On-call load needs PostgreSQL or SQLite.")

    def as_postgresql(self, compiler, connection, **extra_context):
        (moment, moment_params), (zone, zone_params) = (
            compiler.compile(e) for e in self.source_expressions)
        sql = f"CAST(EXTRACT({self.PARTS[self.part]} FROM ({moment}) AT TIME ZONE ({zone})) " \
              "AS integer)"
        return sql, (*moment_params, *zone_params)

    def as_sqlite(self, compiler, connection, **extra_context):
        (moment, moment_params), (zone, zone_params) = (
            compiler.compile(e) for e in self.source_expressions)
        sql = f"django_datetime_extract(%s, {moment}, {zone}, %s)"
        return sql, (self.part, *moment_params, *zone_params, connection.timezone_name)


def _first_to_person():
    """No notification of the same page reached the same person before this one."""
    earlier = Notification.objects.filter(
        page=OuterRef("page"), user=OuterRef("user"), sent_at__isnull=False,
    ).filter(Q(sent_at__lt=OuterRef("sent_at"))
             | Q(sent_at=OuterRef("sent_at"), pk__lt=OuterRef("pk")))
    return ~Exists(earlier)


def _oncall_load(population):
    """Pages per person for the population's incidents, bucketed by local time.

    A page belongs to an incident through its `source` ("incident:<pk>"), the only
    link oncall keeps. Each (page, person) counts once, at the first notification
    that reached them.
    """
    sources = population.annotate(
        source=Concat(Value("incident:"), Cast("pk", output_field=CharField()),
                      output_field=CharField())).values("source")
    zone = Coalesce("user__profile__timezone", Value("UTC"), output_field=CharField())
    hour = LocalPart("hour", F("sent_at"), zone)
    weekday = LocalPart("iso_week_day", F("sent_at"), zone)
    sleep = Q(hour__gte=SLEEP_START) | Q(hour__lt=SLEEP_END)
    business = Q(weekday__lte=5, hour__gte=BUSINESS_START, hour__lt=BUSINESS_END) & ~sleep
    rows = (
        Notification.objects.filter(sent_at__isnull=False,
                                    page__source__in=Subquery(sources))
        .filter(_first_to_person())
        .annotate(hour=hour, weekday=weekday)
        .values("user", "user__username", "user__first_name", "user__last_name",
                "user__profile__timezone")
        .annotate(pages=Count("pk"), sleep=Count("pk", filter=sleep),
                  business=Count("pk", filter=business))
        .order_by("-pages", "user__username")
    )
    return [
        PersonLoad(
            username=row["user__username"],
            name=" ".join(filter(None, (row["user__first_name"], row["user__last_name"])))
            or row["user__username"],
            timezone=row["user__profile__timezone"] or "UTC",
            pages=row["pages"], business=row["business"], sleep=row["sleep"],
            off=row["pages"] - row["business"] - row["sleep"],
        )
        for row in rows
    ]
