"""The refusals every app raises, so whatever answers a request (the JSON API, a view)
turns them into an HTTP status without importing the app that refused.

Each app keeps its own names (`IncidentError`, `PIRError`, `PagingError` ...), each a
subclass of one of these.
"""

from django.core.exceptions import PermissionDenied


class Refused(Exception):
    """A request the rules refuse (illegal transition, missing reason ...); nothing was
    changed. Answered 400."""


class Conflict(Refused):
    """Someone changed the object since the caller read it; nothing was changed.
    `current` is the object as it now stands, to show beside the caller's text.
    Answered 409."""

    def __init__(self, message, current=None):
        super().__init__(message)
        self.current = current


def refusal(exc):
    """(HTTP status, message) for a refusal or a PermissionDenied."""
    if isinstance(exc, PermissionDenied):
        return 403, str(exc) or "You may not do that."
    if isinstance(exc, Conflict):
        return 409, str(exc)
    return 400, str(exc)
