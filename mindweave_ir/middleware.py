"""Response headers the whole site shares."""

from django.conf import settings


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
