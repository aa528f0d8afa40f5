"""Who is on call when (oncall/rotation.py): handoffs in local wall time, coverage, overrides.

DST dates used below (2026): America/New_York springs forward 8 March 02:00 -> 03:00
(07:00 UTC) and falls back 1 November 02:00 -> 01:00 (06:00 UTC); Europe/London
29 March 01:00 UTC and 25 October 01:00 UTC; Australia/Lord_Howe (half-hour DST)
falls back 5 April 02:00 -> 01:30 and springs forward 4 October 02:00 -> 02:30.
America/Santiago is added to the property tests because it changes at local
midnight (5 April 00:00 -> 4 April 23:00, 6 September 00:00 -> 01:00), which is
what the per-local-day coverage windows have to survive.
"""

import dataclasses
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oncall.rotation import (
    DAILY,
    WEEKLY,
    Coverage,
    OverrideSpan,
    Rotation,
    RotationPeriod,
    Shift,
    coverage_gaps,
    handoffs,
    on_call_at,
    shifts,
)

NEW_YORK = "America/New_York"
ZONES = [NEW_YORK, "Europe/London", "Australia/Lord_Howe", "America/Santiago", "UTC"]
# local dates of the 2026 changes, per zone, to aim rotation starts at them
DST_DAYS = {
    NEW_YORK: [date(2026, 3, 8), date(2026, 11, 1)],
    "Europe/London": [date(2026, 3, 29), date(2026, 10, 25)],
    "Australia/Lord_Howe": [date(2026, 4, 5), date(2026, 10, 4)],
    "America/Santiago": [date(2026, 4, 4), date(2026, 4, 5), date(2026, 9, 6)],
    "UTC": [date(2026, 3, 8)],
}
# the same changes as UTC instants, to aim sampled instants at them
TRANSITIONS = [datetime(2026, 3, 8, 7, tzinfo=UTC), datetime(2026, 11, 1, 6, tzinfo=UTC),
               datetime(2026, 3, 29, 1, tzinfo=UTC), datetime(2026, 10, 25, 1, tzinfo=UTC),
               datetime(2026, 4, 4, 15, tzinfo=UTC), datetime(2026, 10, 3, 15, 30, tzinfo=UTC),
               datetime(2026, 4, 5, 3, tzinfo=UTC), datetime(2026, 9, 6, 4, tzinfo=UTC)]
BUSINESS_HOURS = Coverage(days=frozenset(range(5)), start=time(9), end=time(17))
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
US = timedelta(microseconds=1)
PROPERTY = settings(max_examples=200, deadline=None)


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def wall(instant, tz):
    return instant.astimezone(ZoneInfo(tz)).replace(tzinfo=None)


def first_handoff(rotation):
    return handoffs(rotation, EPOCH, 1)[0]


def primary(members=("alice", "bob"), coverage=None):
    """Handbook §2.1 Primary On-Call: weekly, Monday 09:00 America/New_York."""
    return Rotation(members, NEW_YORK, datetime(2026, 1, 5, 9), WEEKLY, coverage)


# -- strategies ---------------------------------------------------------------

quarter_hours = st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))
small_hours = st.builds(time, st.integers(0, 3), st.sampled_from([0, 15, 30, 45]))
periods = st.one_of(
    st.sampled_from([WEEKLY, DAILY, timedelta(hours=12), timedelta(hours=8),
                     timedelta(hours=1), timedelta(minutes=30), timedelta(minutes=90)]),
    st.timedeltas(min_value=timedelta(minutes=30), max_value=timedelta(days=14)),
)
coverages = st.builds(
    lambda days, times: Coverage(days=days, start=min(times), end=max(times)),
    st.frozensets(st.integers(0, 6), min_size=1),
    st.lists(st.one_of(quarter_hours, st.times()), min_size=2, max_size=2, unique=True),
)


@st.composite
def rotations(draw, coverage=True, near_dst=False):
    tz = draw(st.sampled_from(ZONES))
    # aim at this zone's DST changes so gaps and folds actually get exercised
    dst_starts = st.builds(
        lambda day, days_before, at: datetime.combine(day - timedelta(days=days_before), at),
        st.sampled_from(DST_DAYS[tz]),
        st.integers(0, 1),
        st.one_of(small_hours, quarter_hours),
    )
    anywhere = st.datetimes(min_value=datetime(2025, 6, 1), max_value=datetime(2027, 6, 1))
    start = dst_starts if near_dst else st.one_of(anywhere, dst_starts)
    return Rotation(
        members=tuple(draw(st.lists(st.sampled_from("abcd"), min_size=1, max_size=4))),
        tz=tz,
        start=draw(start),
        period=draw(periods),
        coverage=draw(st.none() | coverages) if coverage else None,
    )


def ranges(rotation):
    """[start, end) near the rotation's first handoff, sometimes starting before it."""
    h0 = first_handoff(rotation)
    return st.tuples(
        st.one_of(st.timedeltas(min_value=-timedelta(days=2), max_value=timedelta(days=30)),
                  st.timedeltas(min_value=-timedelta(hours=6), max_value=timedelta(days=1))),
        st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=10)),
    ).map(lambda t: (h0 + t[0], h0 + t[0] + t[1]))


def instants_in(start, end):
    """Instants in [start, end), often within two hours of a DST change."""
    near = [t for t in TRANSITIONS if start - timedelta(hours=2) < t < end + timedelta(hours=2)]
    anywhere = st.timedeltas(min_value=timedelta(0), max_value=end - start - US).map(
        lambda d: start + d
    )
    if not near:
        return anywhere
    close = st.builds(
        lambda t, d: min(max(t + d, start), end - US),
        st.sampled_from(near),
        st.timedeltas(min_value=-timedelta(hours=2), max_value=timedelta(hours=2)),
    )
    return st.one_of(anywhere, close)


def overrides_in(start, end, members="abz"):
    return st.builds(
        lambda offset, length, member: OverrideSpan(start + offset, start + offset + length,
                                                    member),
        st.timedeltas(min_value=-timedelta(hours=6), max_value=end - start),
        st.timedeltas(min_value=US, max_value=timedelta(days=3)),
        st.sampled_from(members),
    )


def shift_at(result, at):
    return next((s.member for s in result if s.start <= at < s.end), None)


def oracle_handoff(rotation, k):
    """Independent model of handoff k: the wall time if it exists, else (in a DST gap)
    the first whole minute whose wall time is past it, i.e. when the clock jumps."""
    naive = rotation.start + k * rotation.period
    instant = naive.replace(tzinfo=ZoneInfo(rotation.tz)).astimezone(UTC)
    if wall(instant, rotation.tz) == naive:
        return instant
    probe = (instant - timedelta(hours=25)).replace(second=0, microsecond=0)
    while wall(probe, rotation.tz) <= naive:
        probe += timedelta(minutes=1)
    return probe


# -- properties ---------------------------------------------------------------


@PROPERTY
@given(rotation=rotations(coverage=False), data=st.data())
def test_24x7_shifts_tile_the_range_from_the_first_handoff(rotation, data):
    start, end = data.draw(ranges(rotation))
    result = shifts(rotation, [], start, end)
    begin = max(start, first_handoff(rotation))
    if begin >= end:
        assert result == []
        return
    assert result[0].start == begin
    assert result[-1].end == end
    for shift in result:
        assert shift.start < shift.end
        assert not shift.is_override
        assert shift.start.tzinfo is UTC and shift.end.tzinfo is UTC
    for before, after in pairwise(result):
        assert before.end == after.start  # no gap, no overlap
        assert before.member != after.member  # same member is merged
        assert handoffs(rotation, after.start - US, 1) == [after.start]
    assert coverage_gaps(rotation, [], start, end) == ([(start, begin)] if start < begin else [])


@PROPERTY
@given(rotation=rotations(), data=st.data())
def test_override_wins_inside_its_range_and_nowhere_else(rotation, data):
    start, end = data.draw(ranges(rotation))
    end += timedelta(hours=1)
    others = data.draw(st.lists(overrides_in(start, end), max_size=2))
    override = data.draw(overrides_in(start, end))
    with_it = [*others, override]

    assert shifts(rotation, with_it, override.start, override.end) == [
        Shift(override.start, override.end, override.member, True)
    ]
    if start < override.start:
        assert shifts(rotation, with_it, start, override.start) == shifts(
            rotation, others, start, override.start)
    if override.end < end:
        assert shifts(rotation, with_it, override.end, end) == shifts(
            rotation, others, override.end, end)
    for at in data.draw(st.lists(instants_in(start, end), min_size=1, max_size=5)):
        if override.start <= at < override.end:
            assert on_call_at(rotation, with_it, at) == override.member
        else:
            assert on_call_at(rotation, with_it, at) == on_call_at(rotation, others, at)


@PROPERTY
@given(rotation=rotations(), data=st.data())
def test_on_call_at_is_the_member_of_the_shift_containing_the_instant(rotation, data):
    start, end = data.draw(ranges(rotation))
    end += timedelta(minutes=1)
    overrides = data.draw(st.lists(overrides_in(start, end), max_size=3))
    result = shifts(rotation, overrides, start, end)
    for at in data.draw(st.lists(instants_in(start, end), min_size=1, max_size=8)):
        assert on_call_at(rotation, overrides, at) == shift_at(result, at)
    for before, after in pairwise(result):
        assert before.end <= after.start
        if before.end == after.start:
            assert (before.member, before.is_override) != (after.member, after.is_override)
    # shifts and gaps together tile the range exactly
    pieces = sorted([(s.start, s.end) for s in result]
                    + coverage_gaps(rotation, overrides, start, end))
    assert pieces[0][0] == start and pieces[-1][1] == end
    assert all(a[1] == b[0] for a, b in pairwise(pieces))


@PROPERTY
@given(rotation=rotations(coverage=False, near_dst=True), data=st.data())
def test_24x7_member_is_the_one_whose_handoff_came_last(rotation, data):
    """Checked against `oracle_handoff`, with instants aimed at the DST changes."""
    rotation = dataclasses.replace(rotation, members=("a", "b", "c", "d")[:len(rotation.members)])
    h0 = first_handoff(rotation)
    instants = data.draw(st.lists(
        instants_in(h0 - timedelta(days=1), h0 + timedelta(days=3)), min_size=1, max_size=8))
    for at in instants:
        k = max(0, (wall(at, rotation.tz) - rotation.start) // rotation.period - 3)
        while k > 0 and oracle_handoff(rotation, k) > at:
            k -= 1
        while oracle_handoff(rotation, k + 1) <= at:
            k += 1
        expected = None if oracle_handoff(rotation, 0) > at else rotation.members[k % len(
            rotation.members)]
        assert on_call_at(rotation, [], at) == expected


@PROPERTY
@given(rotation=rotations(coverage=False), data=st.data())
def test_handoffs_strictly_increase_at_the_configured_local_wall_time(rotation, data):
    after = first_handoff(rotation) + data.draw(
        st.timedeltas(min_value=-timedelta(days=2), max_value=timedelta(days=60)))
    result = handoffs(rotation, after, 20)

    assert len(result) == 20
    assert result[0] > after
    assert all(a < b for a, b in pairwise(result))
    for instant in result:
        local = wall(instant, rotation.tz)
        if (local - rotation.start) % rotation.period:
            # Documented gap case: the wall time never occurred, so the handoff is the
            # instant the clock jumped over it.
            before = wall(instant - US, rotation.tz)
            assert local - before > US
            k = (before - rotation.start) // rotation.period + 1  # first k past `before`
            assert before < rotation.start + k * rotation.period < local
    estimate = max(0, (wall(after, rotation.tz) - rotation.start) // rotation.period - 5)
    expected = sorted({h for k in range(estimate, estimate + 60)
                       if (h := oracle_handoff(rotation, k)) > after})
    assert result == expected[:20]


# -- examples: handoffs across DST --------------------------------------------


def test_primary_on_call_hands_off_monday_0900_new_york_across_spring_forward():
    rotation = primary()
    assert handoffs(rotation, utc(2026, 3, 1), 3) == [
        utc(2026, 3, 2, 14),  # 09:00 EST
        utc(2026, 3, 9, 13),  # 09:00 EDT
        utc(2026, 3, 16, 13),
    ]
    [week] = shifts(rotation, [], utc(2026, 3, 2, 14), utc(2026, 3, 9, 13))
    assert week == Shift(utc(2026, 3, 2, 14), utc(2026, 3, 9, 13), "alice", False)
    assert week.end - week.start == timedelta(hours=167)
    assert on_call_at(rotation, [], utc(2026, 3, 9, 13) - US) == "alice"
    assert on_call_at(rotation, [], utc(2026, 3, 9, 13)) == "bob"


def test_primary_on_call_hands_off_monday_0900_new_york_across_fall_back():
    rotation = primary()
    assert handoffs(rotation, utc(2026, 10, 20), 3) == [
        utc(2026, 10, 26, 13),  # 09:00 EDT
        utc(2026, 11, 2, 14),  # 09:00 EST
        utc(2026, 11, 9, 14),
    ]
    assert shifts(rotation, [], utc(2026, 10, 26, 13), utc(2026, 11, 2, 14)) == [
        Shift(utc(2026, 10, 26, 13), utc(2026, 11, 2, 14), "alice", False)  # 169 hours
    ]


def test_nobody_is_on_call_before_the_first_handoff():
    rotation = primary()
    assert on_call_at(rotation, [], utc(2026, 1, 5, 14) - US) is None
    assert on_call_at(rotation, [], utc(2026, 1, 5, 14)) == "alice"
    assert handoffs(rotation, utc(2025, 12, 1), 1) == [utc(2026, 1, 5, 14)]
    assert coverage_gaps(rotation, [], utc(2026, 1, 1), utc(2026, 1, 6)) == [
        (utc(2026, 1, 1), utc(2026, 1, 5, 14))
    ]


def test_a_year_of_weekly_24x7_is_52_alternating_shifts():
    result = shifts(primary(), [], utc(2026, 1, 5, 14), utc(2027, 1, 4, 14))
    assert len(result) == 52
    assert [s.member for s in result[:3]] == ["alice", "bob", "alice"]
    assert {wall(s.start, NEW_YORK).time() for s in result} == {time(9)}


def test_single_member_rotation_is_one_unbroken_shift():
    rotation = primary(members=("platform-team",))
    assert shifts(rotation, [], utc(2026, 2, 1), utc(2026, 4, 1)) == [
        Shift(utc(2026, 2, 1), utc(2026, 4, 1), "platform-team", False)
    ]


def test_daily_rotation_keeps_0800_london_across_spring_forward():
    rotation = Rotation(("a", "b", "c"), "Europe/London", datetime(2026, 3, 27, 8), DAILY)
    assert handoffs(rotation, utc(2026, 3, 27), 4) == [
        utc(2026, 3, 27, 8), utc(2026, 3, 28, 8),  # GMT
        utc(2026, 3, 29, 7), utc(2026, 3, 30, 7),  # BST
    ]
    assert shifts(rotation, [], utc(2026, 3, 28, 8), utc(2026, 3, 29, 7)) == [
        Shift(utc(2026, 3, 28, 8), utc(2026, 3, 29, 7), "b", False)  # 23 hours
    ]


def test_twelve_hour_rotation_keeps_0800_and_2000_across_lord_howe_half_hour_fall_back():
    rotation = Rotation(("day", "night"), "Australia/Lord_Howe", datetime(2026, 4, 4, 8),
                        timedelta(hours=12))
    assert shifts(rotation, [], utc(2026, 4, 3, 21), utc(2026, 4, 5, 9, 30)) == [
        Shift(utc(2026, 4, 3, 21), utc(2026, 4, 4, 9), "day", False),  # 08:00 +11:00
        Shift(utc(2026, 4, 4, 9), utc(2026, 4, 4, 21, 30), "night", False),  # 12.5 h
        Shift(utc(2026, 4, 4, 21, 30), utc(2026, 4, 5, 9, 30), "day", False),  # +10:30
    ]


def test_handoff_in_spring_forward_gap_is_the_instant_the_clock_jumps():
    rotation = Rotation(("a", "b"), NEW_YORK, datetime(2026, 3, 6, 2, 30), DAILY)
    assert handoffs(rotation, utc(2026, 3, 6, 12), 3) == [
        utc(2026, 3, 7, 7, 30),  # 02:30 EST
        utc(2026, 3, 8, 7),  # 02:30 does not exist: 03:00 EDT
        utc(2026, 3, 9, 6, 30),  # 02:30 EDT
    ]


def test_handoff_in_lord_howe_half_hour_gap_is_the_instant_the_clock_jumps():
    rotation = Rotation(("a", "b"), "Australia/Lord_Howe", datetime(2026, 10, 2, 2, 15), DAILY)
    assert handoffs(rotation, utc(2026, 10, 2), 3) == [
        utc(2026, 10, 2, 15, 45),  # 02:15 +10:30
        utc(2026, 10, 3, 15, 30),  # 02:15 does not exist: 02:30 +11:00
        utc(2026, 10, 4, 15, 15),  # 02:15 +11:00
    ]


def test_handoff_in_fall_back_fold_is_the_first_occurrence():
    rotation = Rotation(("a", "b"), NEW_YORK, datetime(2026, 10, 30, 1, 30), DAILY)
    assert handoffs(rotation, utc(2026, 10, 31), 3) == [
        utc(2026, 10, 31, 5, 30),  # 01:30 EDT
        utc(2026, 11, 1, 5, 30),  # first 01:30 (EDT), not the second (EST)
        utc(2026, 11, 2, 6, 30),  # 01:30 EST
    ]
    assert shifts(rotation, [], utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)) == [
        Shift(utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30), "a", False)  # 25 hours
    ]


def test_handoffs_falling_in_the_same_gap_collapse_and_the_last_one_wins():
    rotation = Rotation(("a", "b", "c", "d"), NEW_YORK, datetime(2026, 3, 8), timedelta(minutes=30))
    # 02:00 (a), 02:30 (b) and 03:00 (c) local all map to 07:00 UTC; c takes it.
    assert handoffs(rotation, utc(2026, 3, 8, 5), 5) == [
        utc(2026, 3, 8, 5, 30), utc(2026, 3, 8, 6), utc(2026, 3, 8, 6, 30),
        utc(2026, 3, 8, 7), utc(2026, 3, 8, 7, 30),
    ]
    assert shifts(rotation, [], utc(2026, 3, 8, 6, 30), utc(2026, 3, 8, 7, 30)) == [
        Shift(utc(2026, 3, 8, 6, 30), utc(2026, 3, 8, 7), "d", False),
        Shift(utc(2026, 3, 8, 7), utc(2026, 3, 8, 7, 30), "c", False),
    ]


def test_the_repeated_hour_belongs_to_the_shift_that_began_in_its_first_pass():
    rotation = Rotation(("a", "b", "c"), NEW_YORK, datetime(2026, 11, 1, 0, 30),
                        timedelta(hours=1))
    assert handoffs(rotation, utc(2026, 11, 1), 3) == [
        utc(2026, 11, 1, 4, 30),  # 00:30 EDT
        utc(2026, 11, 1, 5, 30),  # 01:30 EDT, the first pass
        utc(2026, 11, 1, 7, 30),  # 02:30 EST: b covers both passes of 01:30-02:00
    ]
    assert on_call_at(rotation, [], utc(2026, 11, 1, 6, 15)) == "b"  # 01:15 EST
    assert on_call_at(rotation, [], utc(2026, 11, 1, 7, 30)) == "c"


# -- examples: coverage -------------------------------------------------------


def test_business_hours_leave_nights_and_weekends_uncovered():
    rotation = Rotation(("alice", "bob"), NEW_YORK, datetime(2026, 2, 2, 9), WEEKLY,
                        BUSINESS_HOURS)
    week = (utc(2026, 2, 2, 5), utc(2026, 2, 9, 5))  # Monday to Monday, local midnight
    assert shifts(rotation, [], *week) == [
        Shift(utc(2026, 2, day, 14), utc(2026, 2, day, 22), "alice", False)
        for day in range(2, 7)
    ]
    gaps = coverage_gaps(rotation, [], *week)
    assert gaps[0] == (utc(2026, 2, 2, 5), utc(2026, 2, 2, 14))
    assert gaps[1] == (utc(2026, 2, 2, 22), utc(2026, 2, 3, 14))
    assert gaps[-1] == (utc(2026, 2, 6, 22), utc(2026, 2, 9, 5))  # the weekend
    assert len(gaps) == 6
    assert on_call_at(rotation, [], utc(2026, 2, 7, 15)) is None  # Saturday
    assert on_call_at(rotation, [], utc(2026, 2, 3, 3)) is None  # Monday night
    assert on_call_at(rotation, [], utc(2026, 2, 9, 14)) == "bob"


def test_business_hours_stay_0900_to_1700_local_across_dst():
    rotation = Rotation(("alice",), NEW_YORK, datetime(2026, 2, 2, 9), WEEKLY, BUSINESS_HOURS)
    assert [(s.start, s.end) for s in shifts(rotation, [], utc(2026, 3, 6), utc(2026, 3, 10))] == [
        (utc(2026, 3, 6, 14), utc(2026, 3, 6, 22)),  # Friday, EST
        (utc(2026, 3, 9, 13), utc(2026, 3, 9, 21)),  # Monday, EDT
    ]


def test_coverage_window_spanning_a_handoff_splits_into_two_shifts():
    rotation = Rotation(("a", "b"), NEW_YORK, datetime(2026, 2, 2, 12), DAILY, BUSINESS_HOURS)
    assert shifts(rotation, [], utc(2026, 2, 2), utc(2026, 2, 4)) == [
        Shift(utc(2026, 2, 2, 17), utc(2026, 2, 2, 22), "a", False),  # before noon: not started
        Shift(utc(2026, 2, 3, 14), utc(2026, 2, 3, 17), "a", False),
        Shift(utc(2026, 2, 3, 17), utc(2026, 2, 3, 22), "b", False),
    ]


def test_gaps_over_the_next_14_days_of_business_hours():
    rotation = Rotation(("alice", "bob"), NEW_YORK, datetime(2026, 2, 2, 9), WEEKLY,
                        BUSINESS_HOURS)
    start = utc(2026, 2, 2, 5)
    gaps = coverage_gaps(rotation, [], start, start + timedelta(days=14))
    assert len(gaps) == 11  # before the first window, between the ten, after the last
    assert (utc(2026, 2, 13, 22), utc(2026, 2, 16, 5)) in gaps
    assert coverage_gaps(primary(), [], start, start + timedelta(days=14)) == []


# -- examples: overrides ------------------------------------------------------


def test_override_swaps_part_of_a_shift():
    new_york = ZoneInfo(NEW_YORK)
    swap = OverrideSpan(datetime(2026, 3, 4, 9, tzinfo=new_york),
                        datetime(2026, 3, 5, 9, tzinfo=new_york), "bob")
    assert swap.start == utc(2026, 3, 4, 14)  # stored in UTC
    assert shifts(primary(), [swap], utc(2026, 3, 2, 14), utc(2026, 3, 9, 13)) == [
        Shift(utc(2026, 3, 2, 14), utc(2026, 3, 4, 14), "alice", False),
        Shift(utc(2026, 3, 4, 14), utc(2026, 3, 5, 14), "bob", True),
        Shift(utc(2026, 3, 5, 14), utc(2026, 3, 9, 13), "alice", False),
    ]
    assert on_call_at(primary(), [swap], utc(2026, 3, 4, 20)) == "bob"
    assert on_call_at(primary(), [swap], utc(2026, 3, 5, 14)) == "alice"


def test_overlapping_overrides_the_last_listed_wins():
    carol = OverrideSpan(utc(2026, 3, 3, 10), utc(2026, 3, 3, 14), "carol")
    dave = OverrideSpan(utc(2026, 3, 3, 12), utc(2026, 3, 3, 16), "dave")
    window = (utc(2026, 3, 3, 10), utc(2026, 3, 3, 16))
    assert [(s.member, s.start.hour) for s in shifts(primary(), [carol, dave], *window)] == [
        ("carol", 10), ("dave", 12)]
    assert [(s.member, s.start.hour) for s in shifts(primary(), [dave, carol], *window)] == [
        ("carol", 10), ("dave", 14)]


def test_touching_overrides_for_one_member_merge_and_stay_marked_as_override():
    first = OverrideSpan(utc(2026, 3, 3, 10), utc(2026, 3, 3, 12), "alice")
    second = OverrideSpan(utc(2026, 3, 3, 12), utc(2026, 3, 3, 14), "alice")
    assert shifts(primary(), [first, second], utc(2026, 3, 3, 9), utc(2026, 3, 3, 15)) == [
        Shift(utc(2026, 3, 3, 9), utc(2026, 3, 3, 10), "alice", False),
        Shift(utc(2026, 3, 3, 10), utc(2026, 3, 3, 14), "alice", True),
        Shift(utc(2026, 3, 3, 14), utc(2026, 3, 3, 15), "alice", False),
    ]


def test_override_covers_a_gap_and_applies_before_the_rotation_starts():
    rotation = Rotation(("alice", "bob"), NEW_YORK, datetime(2026, 2, 2, 9), WEEKLY,
                        BUSINESS_HOURS)
    saturday = OverrideSpan(utc(2026, 2, 7, 14), utc(2026, 2, 7, 22), "carol")
    early = OverrideSpan(utc(2026, 1, 1), utc(2026, 1, 2), "dave")
    assert on_call_at(rotation, [saturday, early], utc(2026, 2, 7, 15)) == "carol"
    assert on_call_at(rotation, [saturday, early], utc(2026, 1, 1, 12)) == "dave"
    gaps = coverage_gaps(rotation, [saturday], utc(2026, 2, 6, 22), utc(2026, 2, 9, 5))
    assert gaps == [(utc(2026, 2, 6, 22), utc(2026, 2, 7, 14)),
                    (utc(2026, 2, 7, 22), utc(2026, 2, 9, 5))]


# -- validation and value objects ---------------------------------------------


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Rotation((), NEW_YORK, datetime(2026, 1, 5, 9), WEEKLY), "at least one member"),
        (lambda: Rotation(("a",), NEW_YORK, datetime(2026, 1, 5, 9), timedelta(0)), "positive"),
        (lambda: Rotation(("a",), NEW_YORK, datetime(2026, 1, 5, 9), -DAILY), "positive"),
        (lambda: Rotation(("a",), "Mars/Olympus", datetime(2026, 1, 5, 9), WEEKLY),
         "unknown time zone"),
        (lambda: Rotation(("a",), "", datetime(2026, 1, 5, 9), WEEKLY), "unknown time zone"),
        (lambda: Rotation(("a",), NEW_YORK, utc(2026, 1, 5, 9), WEEKLY), "naive"),
        (lambda: Coverage(frozenset({0}), time(17), time(9)), "must be after start"),
        (lambda: Coverage(frozenset({0}), time(9), time(9)), "must be after start"),
        (lambda: Coverage(frozenset(), time(9), time(17)), "at least one weekday"),
        (lambda: Coverage(frozenset({7}), time(9), time(17)), "weekday ints"),
        (lambda: OverrideSpan(datetime(2026, 3, 1), datetime(2026, 3, 2), "a"), "aware"),
        (lambda: OverrideSpan(utc(2026, 3, 2), utc(2026, 3, 2), "a"), "must be after start"),
        (lambda: shifts(primary(), [], utc(2026, 3, 2), utc(2026, 3, 1)), "before start"),
        (lambda: on_call_at(primary(), [], datetime(2026, 3, 2)), "aware"),
        (lambda: handoffs(primary(), utc(2026, 3, 2), -1), "count"),
    ],
    ids=["no-members", "zero-period", "negative-period", "unknown-zone", "empty-zone",
         "aware-start", "coverage-backwards", "coverage-empty", "coverage-no-days",
         "coverage-bad-day", "naive-override", "empty-override", "range-backwards",
         "naive-instant", "negative-count"],
)
def test_bad_input_raises_value_error(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_values_are_frozen_and_periods_are_timedeltas():
    rotation = Rotation(["a", "b"], NEW_YORK, datetime(2026, 1, 5, 9), RotationPeriod(days=7))
    assert rotation.members == ("a", "b")
    assert rotation.period == WEEKLY
    assert timedelta(days=1) == DAILY
    with pytest.raises(dataclasses.FrozenInstanceError):
        rotation.members = ("c",)
    assert shifts(rotation, [], utc(2026, 3, 2), utc(2026, 3, 2)) == []
    assert handoffs(rotation, utc(2026, 3, 2), 0) == []
