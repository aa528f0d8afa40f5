"""Silence label matchers, Alertmanager's way. Pure: no ORM.

A matcher is a dict `{"name", "value", "is_regex", "is_equal"}`:
- `is_regex` false: the label equals (`is_equal`) or differs from the value;
- `is_regex` true: the whole label value matches (or not) the regular expression
  (anchored at both ends, as in Alertmanager);
- a label the alert lacks counts as the empty string.
A silence matches an alert when every one of its matchers does. At least one matcher
must not match the empty string, so no silence can mute every alert by accident.

On a form matchers are written one per line, as in amtool: `alertname="Disk full"`,
`env!=staging`, `instance=~"web-[0-9]+"`, `job!~"batch.*"` (quotes optional).

Regular expressions run on RE2 (`google-re2`), as in Alertmanager (Go's regexp is RE2):
matching takes time linear in the label's length whatever the pattern, so no silence or
automation rule can hold the ingest lock by backtracking (`(a+)+$` against `'a'*34 + '!'`
takes Python's `re` minutes; RE2 microseconds). RE2 has no backreferences (`\\1`) and
no lookaround (`(?=`, `(?!`, `(?<=`, `(?<!`): such a pattern is refused when saved, as is
one longer than MAX_VALUE_LENGTH. Each pattern is compiled once (`_compiled`, cached);
a label value longer than MAX_LABEL_LENGTH satisfies no regex matcher (`=~` or `!~`).
"""

import functools
import re

import re2

MAX_MATCHERS = 20
MAX_VALUE_LENGTH = 1000
MAX_LABEL_LENGTH = 4096
MAX_LINE_LENGTH = MAX_VALUE_LENGTH + 300
_RE2_UNSUPPORTED = ("RE2 has no backreferences (\\1) and no lookaround ((?=, (?!, (?<=, "
                    "(?<!), as in Alertmanager")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_LINE = re.compile(r"^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$")
_OPERATORS = {"=": (False, True), "!=": (False, False), "=~": (True, True), "!~": (True, False)}


class MatcherError(ValueError):
    """Matchers that cannot be used; `errors` says what is wrong with each."""

    def __init__(self, errors):
        super().__init__("; ".join(errors))
        self.errors = list(errors)


def validate(matchers):
    """The matchers, normalised (stripped names, booleans), or MatcherError."""
    if not isinstance(matchers, list) or not matchers:
        raise MatcherError(["At least one label matcher is needed."])
    if len(matchers) > MAX_MATCHERS:
        raise MatcherError([f"At most {MAX_MATCHERS} matchers."])
    errors, clean = [], []
    for number, matcher in enumerate(matchers, 1):
        if not isinstance(matcher, dict):
            errors.append(f"Matcher {number} must be an object.")
            continue
        name, value = matcher.get("name"), matcher.get("value", "")
        is_regex, is_equal = matcher.get("is_regex", False), matcher.get("is_equal", True)
        if not isinstance(name, str) or not LABEL_NAME.fullmatch(name.strip()):
            errors.append(f"Matcher {number}: {name!r} is not a label name.")
            continue
        if not isinstance(value, str) or len(value) > MAX_VALUE_LENGTH:
            what = "regular expression" if is_regex is True else "value"
            errors.append(f"Matcher {number} ({name}): the {what} must be text of at most "
                          f"{MAX_VALUE_LENGTH} characters.")
            continue
        if not isinstance(is_regex, bool) or not isinstance(is_equal, bool):
            errors.append(f"Matcher {number} ({name}): is_regex and is_equal are true/false.")
            continue
        if is_regex:
            try:
                _compiled(value)
            except re2.error as exc:
                errors.append(f"Matcher {number} ({name}): invalid regular expression "
                              f"{value!r}: {_reason(exc)}. {_RE2_UNSUPPORTED}.")
                continue
        clean.append({"name": name.strip(), "value": value, "is_regex": is_regex,
                      "is_equal": is_equal})
    if not errors and all(_matches_one(m, {}) for m in clean):
        errors.append("These matchers would silence every alert: at least one must not "
                      "match an empty or missing label.")
    if errors:
        raise MatcherError(errors)
    return clean


@functools.lru_cache(maxsize=1024)
def _compiled(pattern):
    """The pattern compiled by RE2, once per distinct pattern; re2.error if RE2 cannot
    compile it. RE2 is told not to log the error too (the caller reports it)."""
    options = re2.Options()
    options.log_errors = False
    return re2.compile(pattern, options)


def _reason(exc):
    reason = exc.args[0] if exc.args else str(exc)
    return reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)


def _matches_one(matcher, labels):
    actual = labels.get(matcher["name"], "")
    if not isinstance(actual, str):
        actual = str(actual)
    if matcher["is_regex"]:
        if len(actual) > MAX_LABEL_LENGTH:
            # Not looked at, so neither =~ nor !~ holds: a silence never mutes, nor a rule
            # fires on, a label it did not read (truncating could turn a miss into a match).
            return False
        found = _compiled(matcher["value"]).fullmatch(actual) is not None
    else:
        found = actual == matcher["value"]
    return found == matcher["is_equal"]


def matches(matchers, labels):
    """Whether every matcher matches these labels (a missing label is "")."""
    return bool(matchers) and all(_matches_one(m, labels or {}) for m in matchers)


def first_matching(silences, labels, integration_id):
    """The first silence (objects with `matchers` and `integration_id`) that applies to an
    alert with these labels from this integration, or None. The caller passes only
    silences active now, in the order it wants them tried."""
    for silence in silences:
        if silence.integration_id not in (None, integration_id):
            continue
        if matches(silence.matchers, labels):
            return silence
    return None


def parse(text):
    """Matchers written one per line (`name=value`, `!=`, `=~`, `!~`) -> validated list."""
    matchers, errors = [], []
    lines = [line for line in (text or "").splitlines() if line.strip()]
    for number, line in enumerate(lines, 1):
        if len(line) > MAX_LINE_LENGTH:
            errors.append(f"Line {number} is longer than {MAX_LINE_LENGTH} characters (a "
                          f"value or regular expression is at most {MAX_VALUE_LENGTH}).")
            continue
        found = _LINE.match(line)
        if not found:
            errors.append(f"Line {number}: {line.strip()!r} is not `name=value`, `name!=value`,"
                          " `name=~regex` or `name!~regex`.")
            continue
        name, operator, value = found.groups()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            # Only \" is an escape: a regex's backslashes stay as typed.
            value = value[1:-1].replace('\\"', '"')
        is_regex, is_equal = _OPERATORS[operator]
        matchers.append({"name": name, "value": value, "is_regex": is_regex,
                         "is_equal": is_equal})
    if errors:
        raise MatcherError(errors)
    return validate(matchers)


def describe(matchers):
    """The matchers back in their one-line form, e.g. `alertname="X", env=~"prod.*"`."""
    operators = {v: k for k, v in _OPERATORS.items()}
    return ", ".join(f'{m["name"]}{operators[(m["is_regex"], m["is_equal"])]}'
                     '"' + m["value"].replace('"', '\\"') + '"' for m in matchers or [])
