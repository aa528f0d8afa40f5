"""Twilio's webhooks: an SMS reply, a call's words and keys, delivery status callbacks.

No login: each request must carry Twilio's X-Twilio-Signature over the URL Twilio
called (SITE_URL + path and query, as set in the Twilio console) and the POST
parameters, checked with the account's auth token; anything else is a 403 and
changes nothing. The answers are TwiML; the work is oncall/replies.py's.
"""

import logging

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse, HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .. import phone, replies

log = logging.getLogger(__name__)
TWIML = "text/xml; charset=utf-8"


def _signed(request):
    url = settings.SITE_URL + request.get_full_path()
    if phone.signed_by_twilio(url, request.POST, request.headers.get("X-Twilio-Signature", "")):
        return True
    log.warning("Twilio webhook %s refused: bad or missing X-Twilio-Signature", request.path)
    return False


def _refused():
    return HttpResponseForbidden("Refused: this request is not signed by Twilio for this "
                                 "URL (X-Twilio-Signature).", content_type="text/plain")


@login_not_required
@csrf_exempt
@require_POST
def sms(request):
    """An SMS to our Twilio number: 1 / 2 (optionally with a page code) act on a page."""
    if not _signed(request):
        return _refused()
    text = replies.answer_sms(from_number=request.POST.get("From", ""),
                              body=request.POST.get("Body", ""))
    return HttpResponse(phone.sms_twiml(text), content_type=TWIML)


@login_not_required
@csrf_exempt
@require_POST
def voice(request):
    """A page's call was answered (read it, wait for a key) or a key was pressed."""
    if not _signed(request):
        return _refused()
    ref, to_number = request.GET.get("ref", ""), request.POST.get("To", "")
    digits = request.POST.get("Digits")
    if digits is None:
        say, wait = replies.call_script(ref=ref, to_number=to_number)
    else:
        say, wait = replies.keypad(ref=ref, digits=digits.strip(), to_number=to_number)
    twiml = (phone.call_twiml(say, gather_url=phone.webhook_url("voice", ref)) if wait
             else phone.said_twiml(say))
    return HttpResponse(twiml, content_type=TWIML)


@login_not_required
@csrf_exempt
@require_POST
def status(request):
    """Twilio's status callback for a message or call we placed."""
    if not _signed(request):
        return _refused()
    data = request.POST
    outcome = replies.record_status(
        ref=request.GET.get("ref", ""), sid=data.get("MessageSid") or data.get("CallSid", ""),
        status=data.get("MessageStatus") or data.get("CallStatus", ""),
        error_code=data.get("ErrorCode", ""))
    log.info("Twilio status callback %s: %s", request.GET.get("ref", ""), outcome)
    return HttpResponse(status=204)
