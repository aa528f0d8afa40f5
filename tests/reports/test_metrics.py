"""The §7 KPIs against a history worked out by hand (tests/reports/metrics_history.py)."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from incidents.models import Exercise, Incident
from reports import metrics
from reports.metrics import chart
from reports.metrics.definitions import format_duration, percentile_ranks
from reports.models import PIRState, PostIncidentReview, RootCauseCategory
from tests.reports.metrics_history import (
    EXPECTED,
    NOW,
    PERIOD,
    at,
    build,
    bulk_history,
    incident_row,
    review,
)

pytestmark = pytest.mark.django_db

UTC = ZoneInfo("UTC")
TOKYO = ZoneInfo("Asia/Tokyo")
COMPUTE_QUERIES = 5  # the grouped aggregate, three percentile windows, the on-call load


def report_for(period=PERIOD, now=NOW, **filters):
    population = metrics.in_period(metrics.real_incidents().filter(**filters), period)
    return metrics.compute(population, period=period, now=now)


def shown(report):
    return {f.key: (f.display, f.raw, f.status) for f in report.figures()}


def test_every_figure_matches_the_hand_computed_history():
    build()

    assert shown(report_for()) == EXPECTED


def test_each_incident_gets_the_verdicts_the_history_gives_it():
    incidents, _ = build()
    population = metrics.in_period(metrics.real_incidents(), PERIOD)

    verdicts = {row["ref"]: row for row in metrics.annotate_verdicts(population, NOW).values(
        "ref", "response_sla", "resolution_sla", "repeat", "review")}

    def of(key):
        row = verdicts[incidents[key].ref]
        return row["response_sla"], row["resolution_sla"], row["repeat"], row["review"]

    assert of("A") == ("met", "met", "first", "on_time")
    assert of("B") == ("missed", "met", "repeat", "late")
    assert of("C") == ("met", "met", "first", "late")  # both at the limit: met
    assert of("D") == ("missed", "met", "repeat", "on_time")  # approved at its due time
    assert of("E") == ("missed", "missed", None, None)  # never acknowledged, still open
    assert of("G") == ("met", "met", "first", "on_time")  # only a game day came before
    assert of("H") == ("met", "missed", "repeat", "late")  # X, outside the period
    assert of("J") == ("missed", "met", "first", "on_time")  # Y is 101 days before
    assert of("K") == ("met", "pending", None, None)
    assert of("L") == ("pending", "pending", None, None)
    assert of("M") == ("met", "met", None, "pending")  # cause unknown; not due yet
    assert of("N") == ("met", "met", "first", "on_time")  # approved before its due date
    assert incidents["F"].ref not in verdicts  # the game day
    # The table of incidents behind the numbers judges repeats row by row, the same way.
    by_row = dict(metrics.behind(population, "", now=NOW).values_list("ref", "repeat"))
    assert by_row == {ref: row["repeat"] for ref, row in verdicts.items()}


def test_review_deadlines_are_five_business_days_after_resolution():
    incidents, _ = build()
    # J resolved Friday 02:38; the weekend does not count: due the next Friday.
    j = PostIncidentReview.objects.get(incident=incidents["J"])
    assert incidents["J"].resolved_at == at(2026, 3, 13, 2, 38)
    assert j.due_at == at(2026, 3, 20, 2, 38)
    # Approved Thursday: on time, though seven calendar days after resolution.
    assert j.approved_at == at(2026, 3, 19, 12, 0)
    assert shown(report_for())["pir.all.reviews_on_time"][1] == 5


def test_a_game_day_counted_as_real_would_change_the_numbers():
    incidents, _ = build()
    Incident.objects.filter(pk=incidents["F"].pk).update(exercise=Exercise.REAL)

    figures = shown(report_for())

    assert figures["mtta.sev-1.count"][1] == 3  # F acknowledged after one minute
    assert figures["repeat.all.repeats"][1] == 4  # G repeats F's database cause
    assert figures["volume.2026-02.count"][1] == 2
    assert figures["oncall.tokyo.pages"][1] == 5


def test_a_test_exercise_is_left_out_like_a_game_day():
    incidents, _ = build()
    Incident.objects.filter(pk=incidents["A"].pk).update(exercise=Exercise.TEST)

    figures = shown(report_for())

    assert figures["mtta.sev-1.count"] == ("1", 1, "")
    assert figures["mtta.sev-1.mean"] == ("6m 00s", 360.0, "missed")
    assert figures["repeat.all.repeats"][1] == 2  # B no longer repeats A
    assert figures["oncall.noprofile.pages"] == ("1", 1, "")  # C's page is left
    assert figures["oncall.noprofile.business"] == ("0", 0, "")


def test_filters_narrow_every_number():
    build()

    figures = shown(report_for(severity=1))

    assert figures["mtta.all.count"][1] == 2
    assert figures["sla_response.all.met"][1] == 1
    assert figures["volume.2026-01.count"][1] == 2
    assert figures["oncall.all.pages"][1] == 5  # A's three and B's two


@pytest.mark.parametrize(("days_before", "verdict"), [
    (timedelta(days=90), "repeat"),
    (timedelta(days=90, seconds=1), "first"),
    (timedelta(seconds=1), "repeat"),
    (timedelta(0), "first"),  # detected at the same moment: not "before"
])
def test_a_repeat_needs_the_same_cause_within_the_ninety_days_before(days_before, verdict):
    later_at = at(2026, 3, 1, 12, 0)
    earlier, later = Incident.objects.bulk_create([
        incident_row("INC-2026-0001", 3, later_at - days_before, ack=5, resolved=60),
        incident_row("INC-2026-0002", 3, later_at, ack=5, resolved=60),
    ])
    review(earlier, RootCauseCategory.DATABASE, None)
    review(later, RootCauseCategory.DATABASE, None)

    rows = metrics.annotate_verdicts(Incident.objects.filter(pk=later.pk), NOW)
    by_row = metrics.behind(Incident.objects.filter(pk=later.pk), "", now=NOW)

    assert rows.get().repeat == verdict
    assert by_row.get().repeat == verdict


def test_a_different_cause_is_no_repeat():
    first, second = Incident.objects.bulk_create([
        incident_row("INC-2026-0001", 3, at(2026, 3, 1), ack=5, resolved=60),
        incident_row("INC-2026-0002", 3, at(2026, 3, 2), ack=5, resolved=60),
    ])
    review(first, RootCauseCategory.DATABASE, None)
    review(second, RootCauseCategory.CAPACITY, None)

    assert metrics.annotate_verdicts(Incident.objects.filter(pk=second.pk), NOW).get() \
        .repeat == "first"
    assert metrics.behind(Incident.objects.filter(pk=second.pk), "", now=NOW).get() \
        .repeat == "first"


def test_months_are_the_viewers_calendar_months():
    # 20:00 UTC on 31 January is 05:00 on 1 February in Tokyo.
    Incident.objects.bulk_create([incident_row("INC-2026-0001", 1, at(2026, 1, 31, 20, 0))])
    in_utc = metrics.Period(PERIOD.first_day, PERIOD.last_day, UTC)
    in_tokyo = metrics.Period(PERIOD.first_day, PERIOD.last_day, TOKYO)

    assert shown(report_for(in_utc))["volume.2026-01.count"][1] == 1
    assert shown(report_for(in_tokyo))["volume.2026-02.count"][1] == 1
    assert shown(report_for(in_tokyo))["volume.2026-01.count"][1] == 0


def test_five_sev1_or_sev2_incidents_in_a_month_miss_the_volume_target():
    Incident.objects.bulk_create(
        incident_row(f"INC-2026-{n:04d}", 1 + n % 2, at(2026, 2, 1 + n, 9, 0))
        for n in range(5))

    figures = shown(report_for())

    assert figures["volume.2026-02.count"] == ("5", 5, "missed")
    assert figures["volume.all.worst_month"] == ("5", 5, "missed")
    assert figures["volume.all.months_over_target"] == ("1", 1, "")


def test_an_empty_period_shows_no_data_rather_than_zero_percent():
    figures = shown(report_for())

    assert figures["mtta.sev-1.mean"] == ("—", None, "no data")
    assert figures["repeat.all.rate"] == ("—", None, "no data")
    assert figures["pir.all.rate"] == ("—", None, "no data")
    assert figures["sla_response.all.rate"] == ("—", None, "no data")
    assert figures["volume.all.worst_month"] == ("0", 0, "met")


def test_a_reopened_review_is_not_approved_any_more():
    incidents, _ = build()
    PostIncidentReview.objects.filter(incident=incidents["A"]).update(
        state=PIRState.DRAFT, approved_at=None)

    assert shown(report_for())["pir.all.reviews_on_time"][1] == 4


# --- query count -----------------------------------------------------------------------

@pytest.mark.parametrize("count", [10, 1000])
def test_compute_runs_the_same_queries_for_ten_or_a_thousand_incidents(
        count, django_assert_num_queries):
    bulk_history(count)

    with django_assert_num_queries(COMPUTE_QUERIES):
        report = report_for()
        figures = shown(report)
        report.cards()

    assert figures["mttr.all.count"][1] == count
    assert figures["oncall.tokyo.pages"][1] == count


# --- pure helpers --------------------------------------------------------------------

@pytest.mark.parametrize(("n", "median", "p90"), [
    (1, (1, 1), (1,)), (2, (1, 2), (2,)), (3, (2, 2), (3,)), (10, (5, 6), (9,)),
    (11, (6, 6), (10,)), (20, (10, 11), (18,)), (21, (11, 11), (19,)),
])
def test_percentile_ranks_are_the_middle_and_the_nearest_rank(n, median, p90):
    assert percentile_ranks(n) == {"median": median, "p90": p90}


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0m 00s"), (59.6, "1m 00s"), (300, "5m 00s"), (3599, "59m 59s"), (3600, "1h 00m"),
    (86399, "23h 59m"), (90000, "1d 1h"),
])
def test_durations_are_written_for_people(seconds, text):
    assert format_duration(timedelta(seconds=seconds)) == text
    assert format_duration(None) == "—"


def test_chart_bars_scale_to_the_largest_value_or_the_target():
    months = [PERIOD.months()[0], PERIOD.months()[1], PERIOD.months()[2]]
    drawn = chart.bars(list(zip(months, [2, None, 10], ["2", "—", "10"], strict=True)),
                       target=5, lower_is_better=True)

    assert [b.state for b in drawn.bars] == ["met", "none", "missed"]
    assert [b.height for b in drawn.bars] == [18.0, 0, 90.0]  # 90 px of plot for 10
    assert drawn.target_y == 55.0
    assert [b.label for b in drawn.bars] == ["Jan", "Feb", "Mar"]
