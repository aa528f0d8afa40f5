"""Bounds on what people and senders give us (issue 16): times within a sane window,
text without NUL or lone surrogates, integers within range. One place, used by the
forms, the JSON API, the inbound webhooks and the services; and the one safe way to
show a stored time that is out of range anyway.

Why: a year-1 time typed in a zone east of UTC is year 0 in UTC (OverflowError, or a
BC timestamp PostgreSQL stores and psycopg cannot read back); NUL is refused by
PostgreSQL text columns (DataError); a lone surrogate cannot be encoded at all;
`'²'.isdigit()` is True and `int()` of twenty digits overflows a bigint.
"""

import re
from datetime import UTC, date, datetime, timedelta

from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.functional import cached_property

from .errors import Refused

# No user-given time is earlier than this, anywhere.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
# "Now" as a user types it may be a little ahead of the server's clock.
SOON = timedelta(minutes=5)
# How far ahead a planned time may be (silence expiry, overrides planned years ahead,
# due dates): far enough for any plan, far inside what every zone can show.
PLANNING_HORIZON = timedelta(days=10 * 366)
# Query filters (never stored) accept anything a real search could mean.
SEARCH_HORIZON = timedelta(days=100 * 366)

# NUL, and UTF-16 surrogates that are not part of a pair (a pair decodes to one
# astral character in Python, so any code point left in this range is alone).
_BAD_CHARACTERS = re.compile("[\x00\ud800-\udfff]")
BAD_TEXT_MESSAGE = ("Remove the NUL character or unpaired surrogate (a broken character) "
                    "from the text and try again.")

# ASCII digits only ('²'.isdigit() is True), few enough for a bigint.
_INTEGER = re.compile(r"-?[0-9]{1,18}")

# Offsets and page numbers: far beyond any real list, far inside a bigint.
MAX_OFFSET = 10_000_000
# The largest row id a URL or form may name (a signed 64-bit key).
MAX_ID = 2**63 - 1


class OutOfRange(Refused):
    """A time outside its window, or text with characters no database column takes."""


# --- times --------------------------------------------------------------------------

def _show(moment):
    local = safe_localtime(moment)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


def window_message(earliest, latest):
    return f"Pick a time between {_show(earliest)} and {_show(latest)}."


def check_time(value, *, latest, earliest=EARLIEST):
    """`value` if it lies in [earliest, latest] (aware datetimes; None passes), else
    OutOfRange saying which window is allowed."""
    if value is None:
        return None
    earliest = max(earliest, EARLIEST)
    try:
        inside = earliest <= value <= latest
    except (OverflowError, TypeError):
        inside = False
    if not inside:
        raise OutOfRange(window_message(earliest, latest))
    return value


def check_date(value, *, latest, earliest=None):
    """The same for a calendar date; `latest` is a date."""
    if value is None:
        return None
    earliest = earliest or EARLIEST.date()
    if not earliest <= value <= latest:
        raise OutOfRange(f"Pick a date between {earliest:%Y-%m-%d} and {latest:%Y-%m-%d}.")
    return value


def ahead(delta):
    """The latest allowed time for a field that may be `delta` in the future."""
    return timezone.now() + delta


def safe_localtime(value):
    """`timezone.localtime(value)`, or the value in UTC when the viewer's zone would push
    it past year 1 or 9999 (a stored out-of-range time must never break a page)."""
    try:
        return timezone.localtime(value)
    except (OverflowError, ValueError):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


# What a stored time is read as at most: a year inside Python's range on each side, so
# any zone (at most a day off UTC) and any deadline arithmetic (hours, days) stays inside.
READ_FLOOR = datetime(2, 1, 1, tzinfo=UTC)
READ_CEILING = datetime(9998, 12, 31, tzinfo=UTC)


class SafeDateTimeField(models.DateTimeField):
    """A DateTimeField for a time people give: bounded on the way in, safe on the way out.

    In: a model validator (ModelForms, the admin, `full_clean`) refuses times before
    EARLIEST or more than `ahead` past now. Out: stored values are read back within
    READ_FLOOR..READ_CEILING, for a value stored before the bounds (or by hand): year 1
    or 9999 would overflow when shown in the viewer's zone, in our templates, Django's
    admin, a form's initial value and every deadline computed from it. The column is a
    plain datetime (deconstructs as one: no migration).
    """

    def __init__(self, *args, ahead=SOON, **kwargs):
        super().__init__(*args, **kwargs)
        self.ahead = ahead

    @cached_property
    def validators(self):
        return [*super().validators, TimeWindowValidator(self.ahead)]

    def from_db_value(self, value, expression, connection):
        if isinstance(value, datetime) and value.tzinfo is not None:
            return min(max(value, READ_FLOOR), READ_CEILING)
        return value

    def deconstruct(self):
        name, _path, args, kwargs = super().deconstruct()
        return name, "django.db.models.DateTimeField", args, kwargs


class TimeWindowValidator:
    """Refuse a time before EARLIEST or more than `ahead` past now (ValidationError)."""

    def __init__(self, ahead):
        self.ahead = ahead

    def __call__(self, value):
        if isinstance(value, datetime) and value.tzinfo is not None:
            try:
                check_time(value, latest=ahead(self.ahead))
            except OutOfRange as exc:
                raise ValidationError(str(exc), code="out_of_range") from None


class BoundedDateTimeField(forms.DateTimeField):
    """A date-time field that refuses times before `EARLIEST` (or `earliest`) and more
    than `ahead` past now, with the window in the message."""

    def __init__(self, *, ahead=SOON, earliest=EARLIEST, **kwargs):
        super().__init__(**kwargs)
        self.ahead, self.earliest = ahead, earliest

    def clean(self, value):
        value = super().clean(value)
        try:
            return check_time(value, earliest=self.earliest, latest=timezone.now() + self.ahead)
        except OutOfRange as exc:
            raise ValidationError(str(exc), code="out_of_range") from None

    def prepare_value(self, value):
        # Redisplaying a stored out-of-range value must not overflow in the viewer's zone.
        if isinstance(value, datetime) and value.tzinfo is not None:
            value = safe_localtime(value)
        return super().prepare_value(value)


class BoundedDateField(forms.DateField):
    """A date field from 2000-01-01 to `ahead` past today."""

    def __init__(self, *, ahead=PLANNING_HORIZON, **kwargs):
        super().__init__(**kwargs)
        self.ahead = ahead

    def clean(self, value):
        value = super().clean(value)
        try:
            return check_date(value, latest=timezone.localdate() + self.ahead)
        except OutOfRange as exc:
            raise ValidationError(str(exc), code="out_of_range") from None


def search_date(value):
    """A date typed into a filter (never stored): None when it is out of any sane range,
    so the filter is simply not applied instead of overflowing."""
    if isinstance(value, datetime):
        try:
            return check_time(value, latest=ahead(SEARCH_HORIZON))
        except OutOfRange:
            return None
    if isinstance(value, date):
        try:
            return check_date(value, latest=timezone.localdate() + SEARCH_HORIZON)
        except OutOfRange:
            return None
    return value


# --- text ---------------------------------------------------------------------------

def has_bad_characters(text):
    return isinstance(text, str) and _BAD_CHARACTERS.search(text) is not None


def check_text(*texts):
    """Refuse (OutOfRange, a 400) text holding NUL or a lone surrogate."""
    if any(has_bad_characters(text) for text in texts):
        raise OutOfRange(BAD_TEXT_MESSAGE)
    return texts[0] if len(texts) == 1 else texts


def scrub(data):
    """`data` (parsed JSON) with NUL and lone surrogates replaced by U+FFFD in every
    string, keys included: for senders that cannot be asked to fix one value, so the
    rest of what they sent is kept."""
    if isinstance(data, str):
        return _BAD_CHARACTERS.sub("\ufffd", data)
    if isinstance(data, dict):
        return {scrub(key): scrub(value) for key, value in data.items()}
    if isinstance(data, list):
        return [scrub(value) for value in data]
    return data


def bad_query_characters(querydict):
    """True if any key or value of a QueryDict holds NUL or a lone surrogate."""
    return any(has_bad_characters(key) or any(has_bad_characters(v) for v in values)
               for key, values in querydict.lists())


# --- integers -----------------------------------------------------------------------

def parse_int(value, *, low=0, high=MAX_OFFSET, default=None):
    """An ASCII decimal integer in [low, high], or `default` for anything else
    (`'²'`, `'1e9'`, twenty digits, a NUL). Never raises."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        number = int(value.strip())
    else:
        return default
    return number if low <= number <= high else default


class RowsChoiceField(forms.ModelMultipleChoiceField):
    """ModelMultipleChoiceField refusing, as "not one of the choices", a value that
    cannot be a row id: Django sends twenty digits to the database, where SQLite
    overflows (a 500)."""

    def _check_values(self, value):
        key = self.to_field_name or "pk"
        if key == "pk" and isinstance(self.queryset.model._meta.pk, models.IntegerField):
            for pk in value:
                if parse_int(pk, low=1, high=MAX_ID) is None:
                    raise ValidationError(self.error_messages["invalid_pk_value"],
                                          code="invalid_pk_value", params={"pk": pk})
        return super()._check_values(value)
