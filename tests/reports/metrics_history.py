"""A small incident history with every KPI worked out by hand (tests/reports/test_metrics*).

Rows are written the way seed_demo's bulk history is (bulk_create with exact times),
because the metrics read timestamps that services stamp with "now"; reviews are
opened through reports.services.create_pir_for, so their due dates come from the
real business-day arithmetic, then dated and categorised as the history says.

"Now" is Friday 2026-03-20 12:00 UTC; the period is 2026-01-01 .. 2026-03-20 (UTC).
SLA targets (§7.2): SEV-1 5 min / 1 h, SEV-2 15 min / 4 h, SEV-3 1 h / 24 h,
SEV-4 4 h / 72 h. Offsets below are minutes after detection.

 inc sev detected (UTC)     ack ident resolved  review: cause, approved
 A   1   2026-01-05 10:00    4    10       50  deployment, 01-09 (due 01-12: on time)
 B   1   2026-01-20 08:00    6    18       60  deployment, 01-28 (due 01-27: late); repeat of A
 C   2   2026-01-25 12:00   15     -      240  capacity, never (due 01-30: late)
 D   2   2026-02-03 09:00   20    30      200  capacity, exactly at its due date; repeat of C
 E   3   2026-02-10 13:00    -     -        -  (open, never acknowledged: both SLAs missed)
 F   1   2026-02-12 10:00    1     2        5  GAME DAY: left out of everything
 G   3   2026-03-02 01:00   30    60      600  database, 03-05 (on time); first: only F before
 H   2   2026-03-10 10:00   10    40      300  dependency, not approved (due 03-17: late);
                                               repeat of X, 89 days before, outside the period
 J   4   2026-03-12 10:00  250   300      998  configuration, 03-19 12:00; resolved Fri 03-13
                                               02:38, due Fri 03-20 02:38 (five business
                                               days), so on time; first: Y is 101 days before
 K   4   2026-03-18 10:00  100     -        -  (open; resolution due 03-21: pending)
 L   1   2026-03-20 11:58    -     -        -  (two minutes old: both SLAs pending)
 M   3   2026-03-16 09:00   10     -      120  unknown cause, not approved, due 03-23: pending
 N   4   2026-03-17 10:00   30     -       60  human, approved 03-18, before its due date
 X   2   2025-12-11 10:00    5    10       60  dependency (outside the period)
 Y   2   2025-12-01 10:00    5    10       60  configuration (outside the period)

Pages (first notification to each person; later ones to the same person don't count):
 A 01-05 10:00:30 UTC Mon: tokyo 19:00 off, newyork 05:00 sleep, noprofile (UTC) 10:00 business
 B 01-20 08:00:20 UTC Tue: tokyo 17:00 off, newyork 03:00 sleep (+ a level-2 one at 08:05)
 G 03-02 01:00:15 UTC Mon: tokyo 10:00 business, newyork Sun 20:00 off
 E 02-10 Tue: tokyo 13:00:10 UTC = 22:00 sleep, newyork (level 2) 14:00:10 UTC = 09:00 business
 C 01-25 12:00:30 UTC Sun: newyork 07:00 off (sleep ends at 07:00, and it is Sunday),
   noprofile 12:00 Sunday off; a failed delivery to tokyo does not count
 F (game day) to tokyo, X (outside the period) to tokyo: neither counts.
"""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.db.models import F

from incidents.models import Exercise, Incident, Severity, Status
from oncall.models import DeliveryStatus, Notification, Page, PageStatus, Profile
from reports.metrics import Period
from reports.models import PIRState, PostIncidentReview, RootCauseCategory
from reports.services import create_pir_for

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
PERIOD = Period(datetime(2026, 1, 1).date(), datetime(2026, 3, 20).date(), ZoneInfo("UTC"))

C = RootCauseCategory
HISTORY = [
    # key, severity, detected, ack, ident, resolved, cause, approved, exercise
    ("A", 1, (2026, 1, 5, 10, 0), 4, 10, 50, C.DEPLOYMENT, (2026, 1, 9, 12, 0), ""),
    ("B", 1, (2026, 1, 20, 8, 0), 6, 18, 60, C.DEPLOYMENT, (2026, 1, 28, 12, 0), ""),
    ("C", 2, (2026, 1, 25, 12, 0), 15, None, 240, C.CAPACITY, None, ""),
    ("D", 2, (2026, 2, 3, 9, 0), 20, 30, 200, C.CAPACITY, "due", ""),
    ("E", 3, (2026, 2, 10, 13, 0), None, None, None, None, None, ""),
    ("F", 1, (2026, 2, 12, 10, 0), 1, 2, 5, C.DATABASE, (2026, 2, 13, 9, 0),
     Exercise.GAME_DAY),
    ("G", 3, (2026, 3, 2, 1, 0), 30, 60, 600, C.DATABASE, (2026, 3, 5, 9, 0), ""),
    ("H", 2, (2026, 3, 10, 10, 0), 10, 40, 300, C.DEPENDENCY, None, ""),
    ("J", 4, (2026, 3, 12, 10, 0), 250, 300, 998, C.CONFIGURATION, (2026, 3, 19, 12, 0), ""),
    ("K", 4, (2026, 3, 18, 10, 0), 100, None, None, None, None, ""),
    ("L", 1, (2026, 3, 20, 11, 58), None, None, None, None, None, ""),
    ("M", 3, (2026, 3, 16, 9, 0), 10, None, 120, C.UNKNOWN, None, ""),
    ("N", 4, (2026, 3, 17, 10, 0), 30, None, 60, C.HUMAN, (2026, 3, 18, 9, 0), ""),
    ("X", 2, (2025, 12, 11, 10, 0), 5, 10, 60, C.DEPENDENCY, (2025, 12, 12, 9, 0), ""),
    ("Y", 2, (2025, 12, 1, 10, 0), 5, 10, 60, C.CONFIGURATION, (2025, 12, 2, 9, 0), ""),
]


def at(*parts):
    return datetime(*parts, tzinfo=UTC)


def incident_row(ref, severity, detected, *, ack=None, ident=None, resolved=None,
                 exercise=Exercise.REAL, title=None):
    """An unsaved Incident as history: minutes after `detected` for each clock."""
    def plus(minutes):
        return None if minutes is None else detected + timedelta(minutes=minutes)

    return Incident(
        ref=ref, title=title or f"Incident {ref}", severity=severity,
        status=Status.RESOLVED if resolved is not None else
        (Status.INVESTIGATING if ack is not None else Status.DECLARED),
        channel_name=f"inc-{ref.lower()}", started_at=detected, detected_at=detected,
        declared_at=detected, acknowledged_at=plus(ack), identified_at=plus(ident),
        resolved_at=plus(resolved), mitigated_at=plus(resolved), exercise=exercise,
        resolution="Fixed." if resolved is not None else "",
    )


def review(incident, cause, approved):
    """Open the review the way resolving does, then set its cause and approval."""
    pir = create_pir_for(incident)
    fields = {"root_cause_category": cause, "created_at": incident.resolved_at}
    if approved == "due":
        fields.update(state=PIRState.APPROVED, approved_at=F("due_at"))
    elif approved is not None:
        fields.update(state=PIRState.APPROVED, approved_at=at(*approved))
    PostIncidentReview.objects.filter(pk=pir.pk).update(**fields)
    return pir


def people():
    users = get_user_model().objects
    tokyo = users.create_user("tokyo", first_name="Tomo", last_name="Sato")
    newyork = users.create_user("newyork", first_name="Nia", last_name="York")
    noprofile = users.create_user("noprofile")
    Profile.objects.create(user=tokyo, timezone="Asia/Tokyo")
    Profile.objects.create(user=newyork, timezone="America/New_York")
    return {"tokyo": tokyo, "newyork": newyork, "noprofile": noprofile}


def page(incident, notifications):
    """A resolved page for `incident` and its (user, sent_at or None) notifications."""
    created = notifications[0][1] or incident.detected_at
    paged = Page.objects.create(
        title=incident.ref, dedup_key=f"incident/{incident.ref}", source=f"incident:{incident.pk}",
        status=PageStatus.RESOLVED, created_at=created)
    Notification.objects.bulk_create(
        Notification(page=paged, cycle=0, level=level, user=user, kind="email",
                     status=DeliveryStatus.SENT if sent else DeliveryStatus.FAILED,
                     due_at=created, sent_at=sent)
        for level, (user, sent) in enumerate(notifications, start=1))
    return paged


def build():
    """Write the history above; returns the incidents by key and the people."""
    rows = {key: incident_row(f"INC-2026-{n:04d}", severity, at(*detected), ack=ack,
                              ident=ident, resolved=res, exercise=exercise)
            for n, (key, severity, detected, ack, ident, res, _, _, exercise)
            in enumerate(HISTORY, start=1)}
    Incident.objects.bulk_create(rows.values())
    incidents = {key: Incident.objects.get(ref=row.ref) for key, row in rows.items()}
    for key, _, _, _, _, _, cause, approved, _ in HISTORY:
        if cause is not None:
            review(incidents[key], cause, approved)
    who = people()
    tokyo, newyork, noprofile = who["tokyo"], who["newyork"], who["noprofile"]
    page(incidents["A"], [(tokyo, at(2026, 1, 5, 10, 0, 30)),
                          (newyork, at(2026, 1, 5, 10, 0, 30)),
                          (noprofile, at(2026, 1, 5, 10, 0, 30))])
    page(incidents["B"], [(tokyo, at(2026, 1, 20, 8, 0, 20)), (newyork, at(2026, 1, 20, 8, 0, 20)),
                          (newyork, at(2026, 1, 20, 8, 5))])
    page(incidents["G"], [(tokyo, at(2026, 3, 2, 1, 0, 15)), (newyork, at(2026, 3, 2, 1, 0, 15))])
    page(incidents["E"], [(tokyo, at(2026, 2, 10, 13, 0, 10)),
                          (newyork, at(2026, 2, 10, 14, 0, 10))])
    page(incidents["F"], [(tokyo, at(2026, 2, 12, 10, 0, 10))])
    page(incidents["C"], [(tokyo, None), (newyork, at(2026, 1, 25, 12, 0, 30)),
                          (noprofile, at(2026, 1, 25, 12, 0, 30))])
    page(incidents["X"], [(tokyo, at(2025, 12, 11, 10, 0, 10))])
    return incidents, who


def bulk_history(count):
    """`count` resolved incidents in the period, each with a review and a page."""
    who = people()
    start = at(2026, 1, 2, 0, 0)
    rows = [incident_row(f"INC-2026-{n:04d}", 1 + n % 4, start + timedelta(hours=n % 1500),
                         ack=3 + n % 20, ident=10 + n % 30, resolved=40 + n % 300)
            for n in range(1, count + 1)]
    incidents = Incident.objects.bulk_create(rows)
    causes = list(RootCauseCategory)
    PostIncidentReview.objects.bulk_create(
        PostIncidentReview(incident=i, due_at=i.resolved_at + timedelta(days=7),
                           root_cause_category=causes[n % len(causes)],
                           state=PIRState.APPROVED if n % 3 else PIRState.DRAFT,
                           approved_at=i.resolved_at + timedelta(days=n % 9) if n % 3 else None)
        for n, i in enumerate(incidents))
    pages = Page.objects.bulk_create(
        Page(title=i.ref, dedup_key=i.ref, source=f"incident:{i.pk}",
             status=PageStatus.RESOLVED, created_at=i.detected_at) for i in incidents)
    Notification.objects.bulk_create(
        Notification(page=p, cycle=0, level=1, user=who[name], kind="email",
                     status=DeliveryStatus.SENT, due_at=p.created_at, sent_at=p.created_at)
        for p in pages for name in ("tokyo", "newyork"))


def seconds(minutes):
    return float(minutes * 60)


# Every figure of the report for this history: key -> (shown, raw value, status).
M, S, N = "met", "missed", "no data"
EXPECTED = {
    # MTTA: acknowledged A4 B6 | C15 D20 H10 | G30 M10 | J250 K100 N30 (E, L never: out)
    "mtta.sev-1.count": ("2", 2, ""), "mtta.sev-1.mean": ("5m 00s", 300.0, S),
    "mtta.sev-1.median": ("5m 00s", 300.0, ""), "mtta.sev-1.p90": ("6m 00s", 360.0, ""),
    "mtta.sev-2.count": ("3", 3, ""), "mtta.sev-2.mean": ("15m 00s", 900.0, ""),
    "mtta.sev-2.median": ("15m 00s", 900.0, ""), "mtta.sev-2.p90": ("20m 00s", 1200.0, ""),
    "mtta.sev-3.count": ("2", 2, ""), "mtta.sev-3.mean": ("20m 00s", 1200.0, ""),
    "mtta.sev-3.median": ("20m 00s", 1200.0, ""), "mtta.sev-3.p90": ("30m 00s", 1800.0, ""),
    "mtta.sev-4.count": ("3", 3, ""), "mtta.sev-4.mean": ("2h 06m", 7600.0, ""),
    "mtta.sev-4.median": ("1h 40m", 6000.0, ""), "mtta.sev-4.p90": ("4h 10m", 15000.0, ""),
    # all ten: 4 6 10 10 15 20 30 30 100 250 -> mean 47.5, median (15+20)/2, p90 9th
    "mtta.all.count": ("10", 10, ""), "mtta.all.mean": ("47m 30s", 2850.0, ""),
    "mtta.all.median": ("17m 30s", 1050.0, ""), "mtta.all.p90": ("1h 40m", 6000.0, ""),
    # MTTI: A10 B18 | D30 H40 | G60 | J300
    "mtti.sev-1.count": ("2", 2, ""), "mtti.sev-1.mean": ("14m 00s", 840.0, M),
    "mtti.sev-1.median": ("14m 00s", 840.0, ""), "mtti.sev-1.p90": ("18m 00s", 1080.0, ""),
    "mtti.sev-2.count": ("2", 2, ""), "mtti.sev-2.mean": ("35m 00s", 2100.0, ""),
    "mtti.sev-2.median": ("35m 00s", 2100.0, ""), "mtti.sev-2.p90": ("40m 00s", 2400.0, ""),
    "mtti.sev-3.count": ("1", 1, ""), "mtti.sev-3.mean": ("1h 00m", 3600.0, ""),
    "mtti.sev-3.median": ("1h 00m", 3600.0, ""), "mtti.sev-3.p90": ("1h 00m", 3600.0, ""),
    "mtti.sev-4.count": ("1", 1, ""), "mtti.sev-4.mean": ("5h 00m", 18000.0, ""),
    "mtti.sev-4.median": ("5h 00m", 18000.0, ""), "mtti.sev-4.p90": ("5h 00m", 18000.0, ""),
    "mtti.all.count": ("6", 6, ""), "mtti.all.mean": ("1h 16m", 4580.0, ""),
    "mtti.all.median": ("35m 00s", 2100.0, ""), "mtti.all.p90": ("5h 00m", 18000.0, ""),
    # MTTR: A50 B60 | C240 D200 H300 | G600 M120 | J998 N60 (E, K, L unresolved: out)
    "mttr.sev-1.count": ("2", 2, ""), "mttr.sev-1.mean": ("55m 00s", 3300.0, M),
    "mttr.sev-1.median": ("55m 00s", 3300.0, ""), "mttr.sev-1.p90": ("1h 00m", 3600.0, ""),
    "mttr.sev-2.count": ("3", 3, ""), "mttr.sev-2.mean": ("4h 06m", 14800.0, ""),
    "mttr.sev-2.median": ("4h 00m", 14400.0, ""), "mttr.sev-2.p90": ("5h 00m", 18000.0, ""),
    "mttr.sev-3.count": ("2", 2, ""), "mttr.sev-3.mean": ("6h 00m", 21600.0, ""),
    "mttr.sev-3.median": ("6h 00m", 21600.0, ""), "mttr.sev-3.p90": ("10h 00m", 36000.0, ""),
    "mttr.sev-4.count": ("2", 2, ""), "mttr.sev-4.mean": ("8h 49m", 31740.0, ""),
    "mttr.sev-4.median": ("8h 49m", 31740.0, ""), "mttr.sev-4.p90": ("16h 38m", 59880.0, ""),
    # all nine: 50 60 60 120 200 240 300 600 998 -> mean 292, median 200, p90 9th
    "mttr.all.count": ("9", 9, ""), "mttr.all.mean": ("4h 52m", 17520.0, ""),
    "mttr.all.median": ("3h 20m", 12000.0, ""), "mttr.all.p90": ("16h 38m", 59880.0, ""),
    # SEV-1/2 per month: Jan A B C, Feb D (F is a game day), Mar H L
    "volume.2026-01.count": ("3", 3, M), "volume.2026-02.count": ("1", 1, M),
    "volume.2026-03.count": ("2", 2, M), "volume.all.worst_month": ("3", 3, M),
    "volume.all.months_over_target": ("0", 0, ""),
    # a known cause: A B C D G H J N; repeats B D H
    "repeat.all.rate": ("37.5%", 0.375, S), "repeat.all.repeats": ("3", 3, ""),
    "repeat.all.judged": ("8", 8, ""),
    # due or approved: A on time, B late, C late, D on time, G on time, H late, J on time,
    # N on time (M pending)
    "pir.all.rate": ("62.5%", 0.625, S), "pir.all.reviews_on_time": ("5", 5, ""),
    "pir.all.reviews_due": ("8", 8, ""),
    # response: SEV-1 A met B missed (L pending); SEV-2 C met (at the limit) D missed H met;
    # SEV-3 E missed G met M met; SEV-4 J missed K met N met
    "sla_response.sev-1.rate": ("50.0%", 0.5, S), "sla_response.sev-1.met": ("1", 1, ""),
    "sla_response.sev-1.missed": ("1", 1, ""),
    "sla_response.sev-2.rate": ("66.7%", 0.6667, S), "sla_response.sev-2.met": ("2", 2, ""),
    "sla_response.sev-2.missed": ("1", 1, ""),
    "sla_response.sev-3.rate": ("66.7%", 0.6667, S), "sla_response.sev-3.met": ("2", 2, ""),
    "sla_response.sev-3.missed": ("1", 1, ""),
    "sla_response.sev-4.rate": ("66.7%", 0.6667, S), "sla_response.sev-4.met": ("2", 2, ""),
    "sla_response.sev-4.missed": ("1", 1, ""),
    "sla_response.all.rate": ("63.6%", 0.6364, S), "sla_response.all.met": ("7", 7, ""),
    "sla_response.all.missed": ("4", 4, ""),
    # resolution: SEV-1 A met B met (at the limit), L pending; SEV-2 C met (at the limit)
    # D met H missed; SEV-3 E missed (open) G met M met; SEV-4 J met N met, K pending
    "sla_resolution.sev-1.rate": ("100.0%", 1.0, M), "sla_resolution.sev-1.met": ("2", 2, ""),
    "sla_resolution.sev-1.missed": ("0", 0, ""),
    "sla_resolution.sev-2.rate": ("66.7%", 0.6667, S), "sla_resolution.sev-2.met": ("2", 2, ""),
    "sla_resolution.sev-2.missed": ("1", 1, ""),
    "sla_resolution.sev-3.rate": ("66.7%", 0.6667, S), "sla_resolution.sev-3.met": ("2", 2, ""),
    "sla_resolution.sev-3.missed": ("1", 1, ""),
    "sla_resolution.sev-4.rate": ("100.0%", 1.0, M), "sla_resolution.sev-4.met": ("2", 2, ""),
    "sla_resolution.sev-4.missed": ("0", 0, ""),
    "sla_resolution.all.rate": ("80.0%", 0.8, S), "sla_resolution.all.met": ("8", 8, ""),
    "sla_resolution.all.missed": ("2", 2, ""),
    # pages: tokyo A off, B off, G business, E sleep; newyork A sleep, B sleep, G off,
    # E business, C off; noprofile A business, C off
    "oncall.tokyo.pages": ("4", 4, ""), "oncall.tokyo.business": ("1", 1, ""),
    "oncall.tokyo.off": ("2", 2, ""), "oncall.tokyo.sleep": ("1", 1, ""),
    "oncall.newyork.pages": ("5", 5, ""), "oncall.newyork.business": ("1", 1, ""),
    "oncall.newyork.off": ("2", 2, ""), "oncall.newyork.sleep": ("2", 2, ""),
    "oncall.noprofile.pages": ("2", 2, ""), "oncall.noprofile.business": ("1", 1, ""),
    "oncall.noprofile.off": ("1", 1, ""), "oncall.noprofile.sleep": ("0", 0, ""),
    "oncall.all.pages": ("11", 11, ""),
}
# Severity labels the fixture uses, for readers of the tests.
SEVERITIES = {s.value: s.label for s in Severity}
