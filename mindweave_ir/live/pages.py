"""Whole pages kept under the versions of what they show (issue 19).

A page whose every part is keyed by live versions (the dashboard, an incident's page)
or bounded in time (metrics) is kept whole: a repeat view by the same viewer, with
the same versions, is one cache read instead of a render. The key holds, besides the
page's own `parts` (its versions, read before anything on the page was):

- the path with its query string;
- the viewer: who they are and how they are named, their roles, staff flags and
  zone — everything the page's permissions and base layout vary by.

The page's forms carry a CSRF token made from the session's secret: a kept page has
every token replaced with one for the request it is served to (the two places a
token is written: `{% csrf_token %}`'s input and base.html's `x-csrftoken` header),
so the same person's other sessions and devices are served it too, and their forms
work.

Only a plain GET answered 200 is kept; HTMX requests, a request with messages to
show (they are shown once) and anything else are rendered as before. A page that
changes at a known instant by time alone (the on-call panel's next shift) says so
with `valid_until`: it is not served from the cache from then on.
"""

import hashlib
import re

from django.contrib.messages import get_messages
from django.core.cache import cache
from django.http import HttpResponse
from django.middleware.csrf import get_token
from django.utils import timezone

from .versions import FRAGMENT_SECONDS

# Where a page writes its CSRF token (a masked token: 64 letters and digits).
_TOKEN = re.compile(rb'(?:(?<=name="csrfmiddlewaretoken" value=")|(?<="x-csrftoken": "))'
                    rb'[A-Za-z0-9]{64}(?=")')


def _around_tokens(html):
    """The page cut where its CSRF tokens are: joined with another token, it is the
    page for that token's session."""
    pieces, start = [], 0
    for found in _TOKEN.finditer(html):
        pieces.append(html[start:found.start()])
        start = found.end()
    pieces.append(html[start:])
    return pieces


def csrf_identity(request):
    """Whom a page's forms are for: their CSRF token is the session's, so what is
    cached with forms is keyed by (a hash of) its secret, never shared."""
    get_token(request)
    secret = request.META.get("CSRF_COOKIE", "")
    return hashlib.sha256(secret.encode()).hexdigest()[:24]


def viewer(request):
    """What a page varies by about its viewer (the groups are the roles; the cached
    signed-in user has them prefetched)."""
    user = request.user
    return (user.pk, user.get_username(), user.get_full_name(), user.is_active,
            user.is_staff, user.is_superuser, tuple(sorted(g.name for g in user.groups.all())),
            timezone.get_current_timezone_name())


def cacheable(request):
    htmx = getattr(request, "htmx", None)
    return (request.method == "GET" and not htmx
            and request.user.is_authenticated and not len(get_messages(request)))


def serve(request, parts, render, seconds=FRAGMENT_SECONDS):
    """The page `render()` answers, from the cache when the same viewer saw it with
    the same `parts`. `render()` returns (response, valid_until or None)."""
    if not cacheable(request):
        return render()[0]
    key = "page:" + hashlib.sha256(
        repr((request.get_full_path(), viewer(request), parts)).encode()).hexdigest()
    now = timezone.now()
    kept = cache.get(key)
    if kept is not None and (kept[1] is None or kept[1] > now):
        return HttpResponse(get_token(request).encode().join(kept[0]), content_type=kept[2])
    response, valid_until = render()
    # Only a plain page: a download's or an HTMX answer's own headers are not kept.
    if (response.status_code == 200 and not response.streaming
            and set(response.headers) <= {"Content-Type"}):
        if valid_until is not None:
            seconds = min(seconds, (valid_until - now).total_seconds())
        if seconds >= 1:
            cache.set(key, (_around_tokens(response.content), valid_until,
                            response["Content-Type"]), int(seconds))
    return response
