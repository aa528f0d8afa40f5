"""Response headers the whole site shares, and the refusal of characters no database
takes."""

from django.conf import settings
from django.http import HttpResponseBadRequest, JsonResponse
from django.utils.html import format_html

from .inputs import BAD_TEXT_MESSAGE, bad_query_characters, has_bad_characters


class ContentSecurityPolicyMiddleware:
    """Send settings.CONTENT_SECURITY_POLICY on every response that has none.

    The policy allows scripts only from this site's own files: no template carries an
    inline script or `on...=` handler (a test keeps it so), and htmx is configured in a
    meta tag without inline styles or eval.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        return response


class RefuseBadCharactersMiddleware:
    """Answer 400 to a path, query string or form body holding NUL or a lone surrogate,
    before any view, form or filter sees it (issue 16; the path: a URL's `<str:...>`
    part, an INC id or a token, is looked up in the database too).

    No database text column takes NUL (PostgreSQL raises DataError), so every form,
    filter, admin page and hand-read parameter would otherwise need its own check.
    JSON bodies (the API, inbound alerts) are checked where they are parsed.
    """

    FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
    NINJA_PREFIX = "/api/v1/incidents/"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        bad = has_bad_characters(request.path) or bad_query_characters(request.GET) or (
            request.method == "POST" and request.content_type in self.FORM_TYPES
            and bad_query_characters(request.POST))
        if not bad:
            return self.get_response(request)
        if request.path.startswith("/api/"):
            # JSON callers get JSON, in the shape their endpoints answer errors in:
            # django-ninja's `detail`, the inbound webhooks' `status` + `message`.
            if request.path.startswith(self.NINJA_PREFIX):
                return JsonResponse({"detail": BAD_TEXT_MESSAGE}, status=400)
            return JsonResponse({"status": "error", "message": BAD_TEXT_MESSAGE}, status=400)
        return HttpResponseBadRequest(
            format_html('<p class="error" role="alert">{}</p>', BAD_TEXT_MESSAGE))
