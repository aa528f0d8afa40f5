"""The computed KPIs as the page, the CSV and the admin show them. No ORM here.

queries.py fills a Report with grouped rows (a few per month) and per-scope duration
statistics; the properties below add those up. `figures()` is the one flat list the
page renders and the CSV writes, so the two cannot disagree.
"""

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta

from incidents.models import Severity

from . import chart
from .definitions import (
    ALL,
    KPIS,
    NO_TARGET,
    PIR_COMPLETION_TARGET,
    REPEAT_RATE_LIMIT,
    SLA_COMPLIANCE_TARGET,
    TIME_KPIS,
    VOLUME_MONTHLY_LIMIT,
    Period,
    at_least,
    below,
    format_duration,
    format_percent,
    ratio,
    scope_label,
    scope_slug,
)

SCOPES = [*Severity.values, ALL]
SEV12 = (Severity.SEV1, Severity.SEV2)
COUNTS = ("incidents", "tta_n", "tti_n", "ttr_n", "response_met", "response_missed",
          "resolution_met", "resolution_missed", "repeats", "judged", "reviews_on_time",
          "reviews_due")
SUMS = ("tta_sum", "tti_sum", "ttr_sum")


@dataclass(frozen=True)
class DurationStats:
    count: int
    mean: timedelta | None
    median: timedelta | None
    p90: timedelta | None


@dataclass(frozen=True)
class MonthRow:
    """What one severity's incidents detected in one month add up to."""

    month: date
    severity: int
    incidents: int
    tta_sum: timedelta | None
    tta_n: int
    tti_sum: timedelta | None
    tti_n: int
    ttr_sum: timedelta | None
    ttr_n: int
    response_met: int
    response_missed: int
    resolution_met: int
    resolution_missed: int
    repeats: int
    judged: int
    reviews_on_time: int
    reviews_due: int


@dataclass(frozen=True)
class PersonLoad:
    username: str
    name: str
    timezone: str
    pages: int
    business: int
    off: int
    sleep: int


STAT_LABELS = {
    "count": "Incidents", "mean": "Mean", "median": "Median", "p90": "p90",
    "rate": "Rate", "met": "Met", "missed": "Missed", "worst_month": "Busiest month",
    "months_over_target": "Months at or over 5", "repeats": "Repeats",
    "judged": "With a known cause", "reviews_on_time": "Approved on time",
    "reviews_due": "Due or approved", "pages": "Pages", "business": "Business hours",
    "off": "Off hours", "sleep": "Sleep hours",
}


@dataclass(frozen=True)
class Figure:
    """One number of the report: a line of the CSV, a cell on the page."""

    key: str
    kpi: str
    scope: str
    statistic: str
    display: str
    raw: object
    target: str = ""
    status: str = NO_TARGET

    @property
    def label(self):
        return STAT_LABELS.get(self.statistic, self.statistic)


@dataclass(frozen=True)
class Card:
    """One KPI at a glance: its headline figure against its target, the figures that
    explain it, a per-month trend and, for some, a table of figures per scope."""

    kpi: object
    figure: Figure
    extras: list = field(default_factory=list)
    chart: object = None
    rows: list = field(default_factory=list)  # [[Figure, ...], ...], one list per scope
    note: str = ""


class Totals:
    """Counts and duration sums of a set of MonthRows, added up."""

    def __init__(self, rows):
        self.counts = Counter()
        self.sums = {}
        for row in rows:
            for name in COUNTS:
                self.counts[name] += getattr(row, name)
            for name in SUMS:
                value = getattr(row, name)
                if value is not None:
                    self.sums[name] = self.sums.get(name, timedelta()) + value

    def __getitem__(self, name):
        return self.counts[name]

    def mean(self, prefix):
        n = self.counts[f"{prefix}_n"]
        return self.sums[f"{prefix}_sum"] / n if n else None

    def rate(self, kind):
        """SLA compliance: met / (met + missed)."""
        met = self.counts[f"{kind}_met"]
        return ratio(met, met + self.counts[f"{kind}_missed"])


def _seconds(value):
    return None if value is None else round(value.total_seconds(), 3)


def _rate_raw(value):
    return None if value is None else round(value, 4)


@dataclass
class Report:
    period: Period
    months: list
    durations: dict
    oncall: list

    # --- adding up ---------------------------------------------------------------------

    def totals(self, scope=ALL, month=None):
        return Totals(r for r in self.months
                      if (scope == ALL or r.severity == scope)
                      and (month is None or r.month == month))

    @property
    def incident_count(self):
        return self.totals()["incidents"]

    def volume_by_month(self):
        """(first day of month, SEV-1/2 count) for every month of the period, zeros too."""
        counts = Counter()
        for row in self.months:
            if row.severity in SEV12:
                counts[row.month] += row.incidents
        return [(month, counts[month]) for month in self.period.months()]

    def repeat_rate(self):
        t = self.totals()
        return ratio(t["repeats"], t["judged"])

    def pir_completion(self):
        t = self.totals()
        return ratio(t["reviews_on_time"], t["reviews_due"])

    # --- the flat list -------------------------------------------------------------------

    def figures(self):
        figures = []
        for key in TIME_KPIS:
            figures += self._duration_figures(key)
        figures += self._volume_figures()
        figures += self._ratio_figures("repeat", "repeats", "judged", self.repeat_rate(),
                                       below(self.repeat_rate(), REPEAT_RATE_LIMIT))
        figures += self._ratio_figures("pir", "reviews_on_time", "reviews_due",
                                       self.pir_completion(),
                                       at_least(self.pir_completion(), PIR_COMPLETION_TARGET))
        for kind in ("response", "resolution"):
            figures += self._sla_figures(kind)
        figures += self._oncall_figures()
        return figures

    def _figure(self, kpi_key, scope, statistic, display, raw, status=NO_TARGET, target=None):
        kpi = KPIS[kpi_key]
        return Figure(key=f"{kpi_key}.{scope_slug(scope) if scope in SCOPES else scope}"
                          f".{statistic}",
                      kpi=kpi.name, scope=scope_label(scope) if scope in SCOPES else scope,
                      statistic=statistic, display=display, raw=raw,
                      target=kpi.target_text if target is None else target, status=status)

    def _duration_figures(self, key):
        limit = TIME_KPIS[key][1]
        out = []
        for scope in SCOPES:
            stats = self.durations[key].get(scope)
            count = stats.count if stats else 0
            out.append(self._figure(key, scope, "count", str(count), count, target=""))
            for stat in ("mean", "median", "p90"):
                value = getattr(stats, stat) if stats else None
                headline = scope == Severity.SEV1 and stat == "mean"
                out.append(self._figure(
                    key, scope, stat, format_duration(value), _seconds(value),
                    status=below(value, limit) if headline else NO_TARGET,
                    target=None if headline else ""))
        return out

    def _volume_figures(self):
        by_month = self.volume_by_month()
        out = [self._figure("volume", f"{month:%Y-%m}", "count", str(n), n,
                            status=below(n, VOLUME_MONTHLY_LIMIT), target="< 5")
               for month, n in by_month]
        worst = max((n for _, n in by_month), default=None)
        over = sum(1 for _, n in by_month if n >= VOLUME_MONTHLY_LIMIT)
        out.append(self._figure("volume", ALL, "worst_month", "—" if worst is None else str(worst),
                                worst, status=below(worst, VOLUME_MONTHLY_LIMIT)))
        out.append(self._figure("volume", ALL, "months_over_target", str(over), over,
                                target=""))
        return out

    def _ratio_figures(self, key, part, whole, rate, status):
        t = self.totals()
        return [
            self._figure(key, ALL, "rate", format_percent(rate), _rate_raw(rate), status=status),
            self._figure(key, ALL, part, str(t[part]), t[part], target=""),
            self._figure(key, ALL, whole, str(t[whole]), t[whole], target=""),
        ]

    def _sla_figures(self, kind):
        key = f"sla_{kind}"
        out = []
        for scope in SCOPES:
            t = self.totals(scope)
            rate = t.rate(kind)
            out += [
                self._figure(key, scope, "rate", format_percent(rate), _rate_raw(rate),
                             status=at_least(rate, SLA_COMPLIANCE_TARGET)),
                self._figure(key, scope, "met", str(t[f"{kind}_met"]), t[f"{kind}_met"],
                             target=""),
                self._figure(key, scope, "missed", str(t[f"{kind}_missed"]),
                             t[f"{kind}_missed"], target=""),
            ]
        return out

    def _oncall_figures(self):
        out = []
        for person in self.oncall:
            for stat in ("pages", "business", "off", "sleep"):
                n = getattr(person, stat)
                out.append(self._figure("oncall", person.username, stat, str(n), n))
        total = sum(p.pages for p in self.oncall)
        out.append(self._figure("oncall", ALL, "pages", str(total), total))
        return out

    # --- the page --------------------------------------------------------------------

    def by_key(self):
        return {f.key: f for f in self.figures()}

    def cards(self):
        """The KPI cards in handbook order, each with its headline figure and trend."""
        figures = self.by_key()
        months = self.period.months()

        def pick(*keys):
            return [figures[k] for k in keys]

        cards = []
        for key, (_, limit) in TIME_KPIS.items():
            prefix = key.replace("mt", "t", 1)  # mtta -> tta
            series = [(m, self.totals(Severity.SEV1, m).mean(prefix)) for m in months]
            cards.append(Card(
                kpi=KPIS[key], figure=figures[f"{key}.sev-1.mean"],
                chart=chart.bars([(m, _seconds(v), format_duration(v)) for m, v in series],
                                 target=limit.total_seconds(), lower_is_better=True,
                                 caption="SEV-1 mean per month"),
                rows=[pick(*(f"{key}.{scope_slug(s)}.{stat}"
                             for stat in ("count", "mean", "median", "p90"))) for s in SCOPES],
                note="The target is judged on the SEV-1 mean.",
            ))
        volume = self.volume_by_month()
        cards.append(Card(
            kpi=KPIS["volume"], figure=figures["volume.all.worst_month"],
            extras=pick("volume.all.months_over_target"),
            chart=chart.bars([(m, n, str(n)) for m, n in volume], target=VOLUME_MONTHLY_LIMIT,
                             lower_is_better=True, caption="SEV-1/SEV-2 incidents per month"),
            rows=[pick(f"volume.{m:%Y-%m}.count") for m, _ in volume],
            note="The headline is the busiest month.",
        ))
        cards.append(Card(
            kpi=KPIS["repeat"], figure=figures["repeat.all.rate"],
            extras=pick("repeat.all.repeats", "repeat.all.judged"),
            chart=self._rate_chart(months, lambda t: ratio(t["repeats"], t["judged"]),
                                   REPEAT_RATE_LIMIT, True, "Repeat rate per month"),
        ))
        cards.append(Card(
            kpi=KPIS["pir"], figure=figures["pir.all.rate"],
            extras=pick("pir.all.reviews_on_time", "pir.all.reviews_due"),
            chart=self._rate_chart(months,
                                   lambda t: ratio(t["reviews_on_time"], t["reviews_due"]),
                                   PIR_COMPLETION_TARGET, False, "Completion per month"),
        ))
        for kind in ("response", "resolution"):
            key = f"sla_{kind}"
            cards.append(Card(
                kpi=KPIS[key], figure=figures[f"{key}.all.rate"],
                extras=pick(f"{key}.all.met", f"{key}.all.missed"),
                chart=self._rate_chart(months, lambda t, kind=kind: t.rate(kind),
                                       SLA_COMPLIANCE_TARGET, False, "Compliance per month"),
                rows=[pick(*(f"{key}.{scope_slug(s)}.{stat}"
                             for stat in ("rate", "met", "missed"))) for s in SCOPES],
                note="Pending incidents (still inside the time) are left out.",
            ))
        return cards

    def _rate_chart(self, months, rate_of, target, lower_is_better, caption):
        """A bar per month of `rate_of(that month's Totals)`, in percent."""
        points = []
        for month in months:
            value = rate_of(self.totals(month=month))
            points.append((month, None if value is None else value * 100,
                           format_percent(value)))
        return chart.bars(points, target=target * 100, lower_is_better=lower_is_better,
                          caption=caption, maximum=100)

    def oncall_total(self):
        return sum(p.pages for p in self.oncall)
