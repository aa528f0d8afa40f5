"""What each §7 KPI means, its target, and how its numbers are written. No ORM here.

The definitions are the help text the metrics page shows, so the words below are the
contract: reports/metrics/queries.py computes exactly this.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from incidents.models import Severity

REPEAT_WINDOW = timedelta(days=90)
VOLUME_MONTHLY_LIMIT = 5  # SEV-1/SEV-2 a month: fewer than this (§7.1)
REPEAT_RATE_LIMIT = 0.10  # below 10% (§7.1)
PIR_COMPLETION_TARGET = 1.0  # every review within 5 business days (§7.1)
# §7.2 gives the response and resolution times, not a share to reach: an SLA is a
# promise to every customer, so the target is every incident within it.
SLA_COMPLIANCE_TARGET = 1.0
# On-call load buckets, in the paged person's own time zone.
SLEEP_START, SLEEP_END = 22, 7  # 22:00-07:00, any day
BUSINESS_START, BUSINESS_END = 9, 17  # Monday-Friday 09:00-17:00
ALL = "all"  # the scope of a figure over every severity selected

MET, MISSED, NO_DATA, NO_TARGET = "met", "missed", "no data", ""


@dataclass(frozen=True)
class Kpi:
    key: str
    name: str
    title: str
    target_text: str
    help: str


TIME_KPIS = {
    # key: (field the clock stops at, §7.1 target for the SEV-1 mean)
    "mtta": ("acknowledged_at", timedelta(minutes=5)),
    "mtti": ("identified_at", timedelta(minutes=15)),
    "mttr": ("resolved_at", timedelta(hours=1)),
}

KPIS = {k.key: k for k in [
    Kpi("mtta", "MTTA", "Mean time to acknowledge", "SEV-1 mean < 5 min",
        "Detected → acknowledged (the first acknowledgement of its page, or the incident "
        "first moving on from Declared). Incidents never acknowledged are left out. Mean, median "
        "and 90th percentile side by side; the target is met when the SEV-1 mean is "
        "under 5 minutes."),
    Kpi("mtti", "MTTI", "Mean time to identify", "SEV-1 mean < 15 min",
        "Detected → root cause identified (the incident first reached Identified, Fixing "
        "or Monitoring). "
        "Incidents never identified are left out. The target is met when the SEV-1 "
        "mean is under 15 minutes."),
    Kpi("mttr", "MTTR", "Mean time to resolve", "SEV-1 mean < 1 h",
        "Detected → resolved. Unresolved incidents are left out. The target is met when "
        "the SEV-1 mean is under 1 hour."),
    Kpi("volume", "Volume", "SEV-1/SEV-2 incidents per month", "< 5 every month",
        "Incidents of SEV-1 or SEV-2 (their severity now) detected in each calendar "
        "month, in your time zone; months at the edges of the period count only the "
        "days inside it. Met when every month has fewer than 5."),
    Kpi("repeat", "Repeat rate", "Repeat-incident rate", "< 10%",
        "Of the incidents whose review names a root-cause category (not \u201cnot yet "
        "known\u201d), the share where an incident with the same category was detected "
        "in the 90 days before it. The earlier incident may lie outside the period or "
        "the filters; tests and game days never count."),
    Kpi("pir", "PIR completion", "Reviews approved within 5 business days", "100%",
        "Of the reviews that are due (5 business days after resolution have passed) or "
        "already approved, the share approved by their due date. Reviews still inside "
        "their 5 days and not approved are pending and left out."),
    Kpi("sla_response", "Response SLA", "Response within the §7.2 SLA", "100%",
        "Acknowledged within the severity's response time (SEV-1 5 min, SEV-2 15 min, "
        "SEV-3 1 h, SEV-4 4 h) of detection. Unacknowledged incidents past the time "
        "count as missed; those still inside it are pending and left out."),
    Kpi("sla_resolution", "Resolution SLA", "Resolution within the §7.2 SLA", "100%",
        "Resolved within the severity's resolution time (SEV-1 1 h, SEV-2 4 h, SEV-3 "
        "24 h, SEV-4 72 h) of detection. Open incidents past the time count as missed; "
        "those still inside it are pending and left out."),
    Kpi("oncall", "On-call load", "Pages per person", "",
        "Pages that reached each person (at least one notification sent to them) for "
        "the incidents shown, split by when the first one reached them, in their own "
        "time zone: sleep hours 22:00–07:00 any day, business hours Monday–Friday "
        "09:00–17:00, off hours the rest."),
]}

EXCLUSIONS = ("Incidents marked as a test or a game day are left out of every number. "
              "An incident belongs to the period in which it was detected.")


def scope_label(scope):
    return "All" if scope == ALL else Severity(scope).label


def scope_slug(scope):
    return ALL if scope == ALL else f"sev-{int(scope)}"


# --- Numbers ---------------------------------------------------------------------------

def percentile_ranks(n):
    """The 1-based positions (in ascending order) that give the median and the p90.

    Median: the middle value, or the mean of the two middle values of an even count.
    p90: nearest rank, the smallest value with at least 90% of values at or below it.
    Integer arithmetic, so the database can use the same formulas.
    """
    return {"median": ((n + 1) // 2, (n + 2) // 2), "p90": ((9 * n + 9) // 10,)}


def ratio(part, whole):
    return part / whole if whole else None


def format_duration(value):
    """`4m 05s`, `2h 07m`, `3d 4h`; "—" when there is nothing to show."""
    if value is None:
        return "—"
    seconds = round(value.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {seconds:02d}s"


def format_percent(value):
    return "—" if value is None else f"{value * 100:.1f}%"


def below(value, limit):
    """MET when `value` < `limit`, NO_DATA without a value."""
    if value is None:
        return NO_DATA
    return MET if value < limit else MISSED


def at_least(value, target):
    if value is None:
        return NO_DATA
    return MET if value >= target else MISSED


# --- Periods ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Period:
    """[start, end) as aware datetimes, from whole local days in `tz`."""

    first_day: date
    last_day: date
    tz: object

    @property
    def start(self):
        return datetime.combine(self.first_day, time(), tzinfo=self.tz)

    @property
    def end(self):
        return datetime.combine(self.last_day + timedelta(days=1), time(), tzinfo=self.tz)

    def months(self):
        """The first day of each calendar month the period touches."""
        months, month = [], self.first_day.replace(day=1)
        while month <= self.last_day:
            months.append(month)
            month = (month + timedelta(days=32)).replace(day=1)
        return months

    def __str__(self):
        return f"{self.first_day:%Y-%m-%d} – {self.last_day:%Y-%m-%d}"


def last_days(days, *, today, tz):
    """The `days` whole days up to and including `today`."""
    return Period(today - timedelta(days=days - 1), today, tz)
