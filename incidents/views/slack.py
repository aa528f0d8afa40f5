"""`POST /slack/events`: the one endpoint the Slack app sends to (DESIGN.md): the
`/incident` slash command, interactivity (buttons, the declare modal, the "Add to
timeline" shortcut) and the Events API's URL check.

Nothing is read before the signature is checked: Slack's HMAC of the raw body with the
signing secret, and a timestamp within 5 minutes (a replayed request is refused).
Refused requests get a 401 and change nothing. CSRF does not apply: the signature is
the authentication; no session is used.
"""

import json

from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from oncall import slack

from ..slack import inbound

MAX_BODY_BYTES = 256 * 1024


def _bad(message, status=400):
    return JsonResponse({"ok": False, "error": message}, status=status)


@login_not_required
@csrf_exempt
@never_cache
@require_POST
def events(request):
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_BODY_BYTES:
        return _bad("The body is too large.", 413)
    body = request.body
    if not slack.verify_request(body, request.headers.get("X-Slack-Request-Timestamp"),
                                request.headers.get("X-Slack-Signature")):
        return _bad("Invalid or expired Slack signature.", 401)
    try:
        if request.content_type == "application/json":
            return _event(json.loads(body))
        if "payload" in request.POST:
            answer = inbound.interaction(json.loads(request.POST["payload"]))
        elif "command" in request.POST:
            answer = inbound.command(request.POST.dict())
        elif "ssl_check" in request.POST:
            answer = None
        else:
            return _bad("Neither a command nor an interaction payload.")
    except (ValueError, TypeError, AttributeError, KeyError):  # json errors are ValueErrors
        return _bad("The payload is not what Slack sends.")
    return JsonResponse(answer) if answer else HttpResponse(status=200)


def _event(data):
    """The Events API: answer the URL check; no event is subscribed to beyond it."""
    if not isinstance(data, dict):
        return _bad("The event is not an object.")
    if data.get("type") == "url_verification":
        return JsonResponse({"challenge": str(data.get("challenge", ""))})
    return HttpResponse(status=200)
