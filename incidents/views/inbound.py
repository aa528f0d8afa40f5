"""Inbound webhooks (DESIGN.md contracts): Alertmanager, the Events API, CloudWatch
alarms through SNS, and heartbeat pings. No login, no CSRF, JSON always.

The two alert endpoints read the body themselves, at most 1 MB (Content-Length first, then the bytes
actually read: DATA_UPLOAD_MAX_MEMORY_SIZE only guards form parsing and
`request.body`, which these never touch). A token that is unknown, disabled or of
the other kind is a 404 and nothing is stored; otherwise the raw body is stored
before it is parsed (the Events API's routing key sits inside the JSON, so that body
is parsed once to find it) and kept whatever happens next. The token is checked and
the body stored in one statement (ingest/store.py).

A valid body is then applied at once if the integration's lock is free and no drain
task is already on its way (the request also applies other bodies waiting for it;
ingest's rule 2), else queued for a drain task: the answer is a success either way,
its alerts' outcome "queued" in the latter.
"""

import logging

from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from .. import heartbeats, ingest
from ..models import IntegrationKind

log = logging.getLogger(__name__)

# A message (bandit B105).
UNKNOWN_TOKEN = "Unknown or disabled integration token"  # nosec B105
TOO_LARGE = f"Body larger than {ingest.MAX_BODY_BYTES} bytes"


def _read_body(request):
    """The body's bytes, or None if it is over the limit (by header or by reading)."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > ingest.MAX_BODY_BYTES:
        return None
    data = request.read(ingest.MAX_BODY_BYTES + 1)
    return None if len(data) > ingest.MAX_BODY_BYTES else data


def _post_only(request):
    if request.method != "POST":
        response = JsonResponse({"status": "error", "message": "Use POST."}, status=405)
        response["Allow"] = "POST"
        return response
    return None


def _unknown_token():
    return JsonResponse({"status": "not found", "message": UNKNOWN_TOKEN}, status=404)


def _failed(payload, exc):
    """An unexpected error: keep the body, mark it failed, answer JSON (sender retries)."""
    log.exception("processing inbound payload %s failed", payload.pk)
    ingest.mark_failed(payload, exc)
    return JsonResponse({"status": "error", "message": "Internal error; the payload was kept."},
                        status=500)


@login_not_required
@csrf_exempt
@never_cache
def alertmanager_webhook(request, token):
    """Prometheus Alertmanager `webhook_configs` receiver (payload version "4")."""
    if refused := _post_only(request):
        return refused
    body = _read_body(request)
    if body is None:
        if ingest.integration_for_token(token, IntegrationKind.ALERTMANAGER) is None:
            return _unknown_token()
        return JsonResponse({"status": "too large", "message": TOO_LARGE}, status=413)
    payload = ingest.store_for_token(token, IntegrationKind.ALERTMANAGER, body)
    if payload is None:
        return _unknown_token()
    try:
        receipt = ingest.receive_alertmanager(payload, body)
    except ingest.PayloadError as exc:
        return JsonResponse({"status": "invalid payload",
                             "message": "Alertmanager payload is invalid",
                             "errors": exc.errors}, status=400)
    except Exception as exc:  # noqa: BLE001 - answer JSON, keep the body
        return _failed(payload, exc)
    return JsonResponse({"status": "success",
                         "message": "Payload queued" if receipt.queued else "Payload processed",
                         "alerts": receipt.results})


def _invalid_event(errors):
    return JsonResponse({"status": "invalid event", "message": "Event object is invalid",
                         "errors": errors}, status=400)


@login_not_required
@csrf_exempt
@never_cache
def events_enqueue(request):
    """PagerDuty Events API v2 compatible `enqueue` (routing_key = integration token)."""
    if refused := _post_only(request):
        return refused
    body = _read_body(request)
    if body is None:
        return JsonResponse({"status": "too large", "message": TOO_LARGE}, status=413)
    try:
        data = ingest.load_json(body.decode("utf-8"))
        token = ingest.routing_key_of(data)
    except UnicodeDecodeError:
        return _invalid_event(["body is not UTF-8"])
    except ingest.PayloadError as exc:
        return _invalid_event(exc.errors)
    payload = ingest.store_for_token(token, IntegrationKind.EVENTS, body)
    if payload is None:
        return JsonResponse({"status": "invalid event", "message": UNKNOWN_TOKEN,
                             "errors": ["'routing_key' is not a known integration token"]},
                            status=404)
    try:
        receipt = ingest.receive_event(payload, data)
    except ingest.PayloadError as exc:
        return _invalid_event(exc.errors)
    except Exception as exc:  # noqa: BLE001 - answer JSON, keep the body
        return _failed(payload, exc)
    return JsonResponse({"status": "success",
                         "message": "Event accepted" if receipt.queued else "Event processed",
                         "dedup_key": receipt.results[0]["key"]}, status=202)


@login_not_required
@csrf_exempt
@never_cache
def cloudwatch_sns(request, token):
    """An SNS HTTPS subscription (CloudWatch alarms); ingest/sns.py has the rules.

    Unknown token 404; not an SNS message 400; not shown to come from SNS (signature,
    certificate host, age) 403; the certificate could not be fetched 502 (SNS retries).
    Nothing is stored for any of these. A replayed MessageId is answered 200, folded.
    """
    if refused := _post_only(request):
        return refused
    integration = ingest.integration_for_token(token, IntegrationKind.CLOUDWATCH)
    if integration is None:
        return JsonResponse({"status": "not found", "message": UNKNOWN_TOKEN}, status=404)
    body = _read_body(request)
    if body is None:
        return JsonResponse({"status": "too large", "message": TOO_LARGE}, status=413)
    try:
        envelope = ingest.verified_message(
            body, header_type=request.headers.get("x-amz-sns-message-type"),
            now=timezone.now())
    except ingest.SnsInvalid as exc:
        return JsonResponse({"status": "invalid message", "message": "Not an SNS message "
                             "we accept", "errors": exc.errors}, status=400)
    except ingest.SnsRefused as exc:
        log.warning("SNS message for integration %s refused: %s", integration.pk, exc)
        return JsonResponse({"status": "refused", "message": str(exc)}, status=403)
    except ingest.SnsUnavailable as exc:
        log.warning("SNS signing certificate unavailable: %s", exc)
        return JsonResponse({"status": "unavailable", "message": "Could not fetch the "
                             "signing certificate; try again"}, status=502)
    payload = ingest.store_sns_message(integration, body, envelope)
    if payload is None:
        first = ingest.duplicate_of(integration, envelope)
        return JsonResponse({"status": "duplicate", "message": "MessageId already received; "
                             "folded", "outcome": first.outcome if first else ""})
    try:
        receipt = ingest.receive_sns(integration, payload, envelope)
    except ingest.PayloadError as exc:
        return JsonResponse({"status": "invalid payload", "message": "Not a CloudWatch alarm",
                             "errors": exc.errors}, status=400)
    except Exception as exc:  # noqa: BLE001 - answer JSON, keep the body
        return _failed(payload, exc)
    return JsonResponse({"status": "success", "message": receipt.message,
                         "alerts": receipt.results})


@login_not_required
@csrf_exempt
@never_cache
def heartbeat_ping(request, token):
    """A heartbeat's ping URL (GET or POST, no body needed): records the ping, and
    resolves the heartbeat's alert if it had been missed. Unknown token: 404."""
    if request.method not in ("GET", "POST", "HEAD"):
        response = JsonResponse({"status": "error", "message": "Use GET or POST."}, status=405)
        response["Allow"] = "GET, HEAD, POST"
        return response
    heartbeat = heartbeats.heartbeat_for_token(token)
    if heartbeat is None:
        return JsonResponse({"status": "not found", "message": "Unknown heartbeat token"},
                            status=404)
    heartbeat = heartbeats.ping(heartbeat)
    return JsonResponse({"status": "success", "heartbeat": heartbeat.name,
                         "last_ping_at": heartbeat.last_ping_at.isoformat()})
