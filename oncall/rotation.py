"""Who is on call when: pure functions over plain values, no ORM (handbook §2.1).

A rotation hands off at a fixed *local* wall-clock time in its own zone, so a
Monday 09:00 America/New_York handoff stays 09:00 local across DST changes.
Overrides (shift swaps) win inside their range and nowhere else.

API (callers rely on exactly this):

    Rotation(members, tz, start, period, coverage=None, offset=0, eras=())
        members  tuple of hashable member ids, in rotation order (non-empty;
                 any iterable is stored as a tuple); turn k is members[(k - offset) % n]
        tz       IANA zone name, e.g. "America/New_York"
        start    naive datetime: local wall time of handoff 0 (member 0 starts)
        period   timedelta of *local wall-clock* length, > 0. Use WEEKLY, DAILY or
                 timedelta(hours=n); RotationPeriod is an alias of timedelta.
        coverage None for 24x7, else Coverage(days=frozenset of weekday ints 0=Mon..6,
                 start=time, end=time) in local time, start < end (a window cannot
                 cross midnight); outside it nobody is on call
        eras     earlier member lists, Era(until, members, offset): a turn that starts
                 before an era's `until` (the first such era) takes its member from
                 it, so changing the members from a handoff on leaves past turns as
                 they were

    OverrideSpan(start, end, member)         aware datetimes (stored as UTC), start < end
    Shift(start, end, member, is_override)   aware UTC datetimes, start < end

    shifts(rotation, overrides, start, end) -> list[Shift]
        ordered, clipped to [start, end), adjacent pieces of the same member and
        kind merged; before handoff 0 nobody is on call unless an override says so.
    on_call_at(rotation, overrides, at) -> member or None   (agrees with shifts)
    turn_at(rotation, at) -> Turn(start, end, member, index) or None
        the rotation turn containing `at` (coverage and overrides not applied):
        from the last handoff at or before `at` to the next one after it, and
        the member whose turn it is; None before handoff 0
    handoffs(rotation, after, count) -> list[datetime]
        the next `count` distinct rotation handoff instants strictly after `after`,
        aware UTC, strictly increasing (coverage does not hide handoffs)
    coverage_gaps(rotation, overrides, start, end) -> list[tuple[datetime, datetime]]
        the parts of [start, end) where nobody is on call

All instants passed in must be aware (any zone); all returned instants are UTC.
Bad input raises ValueError (so does `shifts`/`coverage_gaps` with end < start; an
empty range gives []). `Rotation.zone` is the ZoneInfo for `tz`. Overrides apply
in list order: where several overlap, the one listed last wins.

Local wall time -> instant (used for handoffs and coverage edges): a wall time maps
to *the earliest instant at which the local clock reads that time or later*.
  - Normal times: the one matching instant.
  - Fall-back fold (time occurs twice): the first occurrence (fold=0).
  - Spring-forward gap (time never occurs): the instant the clock jumps, e.g.
    02:30 on 2026-03-08 in America/New_York -> 03:00 EDT = 07:00 UTC.
This mapping never goes backwards, so handoff instants never decrease. Only a
period no longer than a DST gap (e.g. 30 minutes vs a 1 hour gap) can map two
handoffs to the same instant; then the later handoff wins and the earlier
member gets no time that round, and `handoffs` lists that instant once.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

RotationPeriod = timedelta
WEEKLY = timedelta(days=7)
DAILY = timedelta(days=1)

_ONE_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class Coverage:
    """Local-time window on some weekdays (e.g. Mon-Fri 09:00-17:00); outside it, nobody."""

    days: frozenset[int]
    start: time
    end: time

    def __post_init__(self):
        days = frozenset(self.days)
        if not days:
            raise ValueError("coverage needs at least one weekday")
        if not all(isinstance(d, int) and 0 <= d <= 6 for d in days):
            raise ValueError(f"coverage days must be weekday ints 0 (Mon) .. 6 (Sun), got {days}")
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("coverage start/end are local wall times and must be naive")
        if self.end <= self.start:
            raise ValueError(
                f"coverage end {self.end} must be after start {self.start} "
                "(windows crossing midnight are not supported)"
            )
        object.__setattr__(self, "days", days)


@dataclass(frozen=True)
class Era:
    """An earlier member list of a rotation: turns starting before `until` use it."""

    until: datetime
    members: tuple
    offset: int = 0

    def __post_init__(self):
        object.__setattr__(self, "until", _utc(self.until, "era until"))
        members = tuple(self.members)
        if not members:
            raise ValueError("an era needs at least one member")
        object.__setattr__(self, "members", members)


@dataclass(frozen=True)
class Rotation:
    """Members take turns, handing off every `period` of local wall time from `start`."""

    members: tuple
    tz: str
    start: datetime
    period: timedelta
    coverage: Coverage | None = None
    offset: int = 0
    eras: tuple = ()

    def __post_init__(self):
        object.__setattr__(self, "eras", tuple(sorted(self.eras, key=lambda e: e.until)))
        members = tuple(self.members)
        if not members:
            raise ValueError("a rotation needs at least one member")
        try:
            ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise ValueError(f"unknown time zone {self.tz!r}") from None
        if not isinstance(self.start, datetime) or self.start.tzinfo is not None:
            raise ValueError("rotation start is a local wall time: a naive datetime")
        if not isinstance(self.period, timedelta) or self.period <= timedelta(0):
            raise ValueError(f"rotation period must be a positive timedelta, got {self.period!r}")
        object.__setattr__(self, "members", members)

    @property
    def zone(self):
        """The ZoneInfo for `tz` (zoneinfo caches these, so this is cheap)."""
        return ZoneInfo(self.tz)


@dataclass(frozen=True)
class OverrideSpan:
    """`member` is on call for [start, end), whatever the rotation and coverage say."""

    start: datetime
    end: datetime
    member: object

    def __post_init__(self):
        start, end = _utc(self.start, "override start"), _utc(self.end, "override end")
        if end <= start:
            raise ValueError(f"override end {end} must be after start {start}")
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)


@dataclass(frozen=True)
class Shift:
    """One stretch [start, end) with one member on call, from an override or the rotation."""

    start: datetime
    end: datetime
    member: object
    is_override: bool


def shifts(rotation, overrides, start, end):
    """Return the shifts in [start, end), ordered and merged.

    1. Collect every instant in the range where the answer may change: rotation
       handoffs, coverage window edges for each local day (plus one day either
       side, in case a DST gap spanning midnight moves an edge), override edges.
    2. Between two consecutive such instants the answer is constant, so evaluate
       it once at the left end with the same function `on_call_at` uses.
    3. Drop pieces with nobody on call; merge touching pieces of equal member/kind.
    Cost is linear in handoffs + days + overrides in the range, not in minutes.
    """
    start, end = _utc(start, "start"), _utc(end, "end")
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    overrides = [o for o in overrides if o.start < end and o.end > start]
    points = {start, end}
    k = _index_at(rotation, start)
    k = -1 if k is None else k
    while (instant := _handoff(rotation, k + 1)) < end:
        points.add(instant)
        k += 1
    if rotation.coverage is not None:
        day = _wall(start, rotation.zone).date() - DAILY
        last = _wall(end, rotation.zone).date() + DAILY
        while day <= last:
            points.update(_window(rotation, day) or ())
            day += DAILY
    for override in overrides:
        points.update((override.start, override.end))
    result = []
    for left, right in pairwise(sorted(p for p in points if start <= p <= end)):
        state = _state_at(rotation, overrides, left)
        if state is None:
            continue
        prev = result[-1] if result else None
        if prev and prev.end == left and (prev.member, prev.is_override) == state:
            result[-1] = Shift(prev.start, right, prev.member, prev.is_override)
        else:
            result.append(Shift(left, right, *state))
    return result


def on_call_at(rotation, overrides, at):
    """Return the member on call at instant `at`, or None (gap or before the rotation)."""
    state = _state_at(rotation, list(overrides), _utc(at, "at"))
    return None if state is None else state[0]


@dataclass(frozen=True)
class Turn:
    start: datetime
    end: datetime
    member: object
    index: int | None = None


def turn_at(rotation, at):
    """Return the Turn containing instant `at`, or None before handoff 0."""
    at = _utc(at, "at")
    k = _index_at(rotation, at)
    if k is None:
        return None
    start = _handoff(rotation, k)
    following = k + 1
    while _handoff(rotation, following) <= start:  # handoffs folded by a DST gap
        following += 1
    return Turn(start, _handoff(rotation, following), _member(rotation, k), k)


def handoffs(rotation, after, count):
    """Return the next `count` distinct handoff instants strictly after `after` (UTC)."""
    after = _utc(after, "after")
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    k = _index_at(rotation, after)
    k = -1 if k is None else k
    result = []
    while len(result) < count:
        k += 1
        instant = _handoff(rotation, k)
        if not result or instant > result[-1]:
            result.append(instant)
    return result


def coverage_gaps(rotation, overrides, start, end):
    """Return the (start, end) intervals within [start, end) where nobody is on call."""
    start, end = _utc(start, "start"), _utc(end, "end")
    gaps, cursor = [], start
    for shift in shifts(rotation, overrides, start, end):
        if shift.start > cursor:
            gaps.append((cursor, shift.start))
        cursor = shift.end
    if cursor < end:
        gaps.append((cursor, end))
    return gaps


def _state_at(rotation, overrides, at):
    """(member, is_override) at UTC instant `at`, or None; the last matching override wins."""
    for override in reversed(overrides):
        if override.start <= at < override.end:
            return override.member, True
    k = _index_at(rotation, at)
    if k is None or not _covered(rotation, at):
        return None
    return _member(rotation, k), False


def _member(rotation, k):
    """The member whose turn k is: from the first era the turn starts before, else
    from the current members."""
    if rotation.eras:
        start = _handoff(rotation, k)
        for era in rotation.eras:
            if start < era.until:
                return era.members[(k - era.offset) % len(era.members)]
    return rotation.members[(k - rotation.offset) % len(rotation.members)]


def _index_at(rotation, at):
    """Largest k with handoff k <= `at`, or None before handoff 0.

    1. Estimate k from the wall-clock time at `at` (exact except near DST changes).
    2. Step down while handoff k is after `at`, then up while handoff k+1 is not.
    """
    if at < _handoff(rotation, 0):
        return None
    k = max(0, (_wall(at, rotation.zone) - rotation.start) // rotation.period)
    while _handoff(rotation, k) > at:
        k -= 1
    while _handoff(rotation, k + 1) <= at:
        k += 1
    return k


def _handoff(rotation, k):
    """Instant of handoff k: local wall time start + k * period, mapped to UTC."""
    return _local_to_utc(rotation.start + k * rotation.period, rotation.zone)


def _covered(rotation, at):
    """Whether `at` lies in a coverage window of the local day before, of, or after it."""
    if rotation.coverage is None:
        return True
    today = _wall(at, rotation.zone).date()
    for day in (today - DAILY, today, today + DAILY):
        window = _window(rotation, day)
        if window and window[0] <= at < window[1]:
            return True
    return False


def _window(rotation, day: date):
    """UTC (start, end) of the coverage window on local `day`, or None if not covered."""
    coverage = rotation.coverage
    if day.weekday() not in coverage.days:
        return None
    zone = rotation.zone
    return (
        _local_to_utc(datetime.combine(day, coverage.start), zone),
        _local_to_utc(datetime.combine(day, coverage.end), zone),
    )


def _local_to_utc(naive, zone):
    """Earliest instant at which the clock in `zone` reads `naive` or later.

    1. Try fold=0: if it round-trips, it is the (first) occurrence of `naive`.
    2. Otherwise `naive` is in a gap. fold=0 and fold=1 give instants on either
       side of the jump; binary-search (to the microsecond) the first instant
       whose wall time is past `naive`: the moment the clock jumps.
    """
    guess = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if _wall(guess, zone) == naive:
        return guess
    other = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    low, high = min(guess, other), max(guess, other)
    while high - low > _ONE_MICROSECOND:
        mid = low + (high - low) // 2
        if _wall(mid, zone) > naive:
            high = mid
        else:
            low = mid
    return high


def _wall(instant, zone):
    """Naive local wall-clock time of `instant` in `zone`."""
    return instant.astimezone(zone).replace(tzinfo=None)


def _utc(value, name):
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, got {value!r}")
    return value.astimezone(UTC)
