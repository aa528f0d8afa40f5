"""Talking to Slack's Web API and checking what Slack sends us: the one place that
holds the bot token and the signing secret.

`call(method, **arguments)` sends one Web API call with slack_sdk's WebClient (at
settings.SLACK_API_URL, which tests point at a local fake) and returns Slack's data,
or raises SlackError: `code` is Slack's error string ("name_taken", "ratelimited" ...),
`retry_after` the seconds a 429 asked us to wait, `permanent` whether retrying can
help. Every failure is noted on the workspace row, for the admin.

The Slack API address is an operator's setting, not a URL users type, so it does not
go through mindweave_ir.outbound (which refuses the loopback fake tests use).
"""

import logging
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.signature import SignatureVerifier

from .models import SlackIdentity, SlackWorkspace

log = logging.getLogger(__name__)

# Slack errors no retry can fix: the token, the scopes or the object are wrong.
PERMANENT_CODES = frozenset({
    "not_authed", "invalid_auth", "account_inactive", "token_revoked", "token_expired",
    "no_permission", "missing_scope", "not_allowed_token_type", "channel_not_found",
    "is_archived", "already_archived", "not_in_channel", "invalid_name", "invalid_name_specials",
    "invalid_name_maxlength", "invalid_name_punctuation", "invalid_name_required",
    "users_not_found", "user_not_found", "cant_invite_self", "cant_invite", "restricted_action",
    "message_not_found", "invalid_blocks", "invalid_arguments", "name_taken",
    "expired_trigger_id", "invalid_trigger_id", "method_deprecated", "ekm_access_denied",
})
REPLAY_WINDOW_SECONDS = 5 * 60  # slack_sdk's SignatureVerifier refuses older timestamps


class SlackError(Exception):
    """A Web API call that failed; the message is Slack's error code or ours, never a
    token."""

    def __init__(self, message, *, code="", retry_after=None, permanent=False):
        super().__init__(message)
        self.code = code
        self.retry_after = retry_after
        self.permanent = permanent


@dataclass(frozen=True)
class SlackConfig:
    bot_token: str
    signing_secret: str
    token_from_env: bool
    secret_from_env: bool

    @property
    def connected(self):
        """Outbound calls are made only with a bot token."""
        return bool(self.bot_token)


def workspace():
    """The workspace row, or an unsaved empty one (reading never writes)."""
    return SlackWorkspace.objects.filter(pk=1).first() or SlackWorkspace(pk=1)


def config():
    """The secrets in force: each from the environment if set there, else the admin's."""
    env_token, env_secret = settings.SLACK_BOT_TOKEN, settings.SLACK_SIGNING_SECRET
    row = None if env_token and env_secret else workspace()
    return SlackConfig(
        bot_token=env_token or (row.bot_token if row else ""),
        signing_secret=env_secret or (row.signing_secret if row else ""),
        token_from_env=bool(env_token), secret_from_env=bool(env_secret))


def _header(response, name):
    for key, value in (getattr(response, "headers", None) or {}).items():
        if key.lower() == name.lower():
            return value[0] if isinstance(value, list) else value
    return None


def _retry_after(response):
    try:
        return max(1, int(_header(response, "Retry-After")))
    except (TypeError, ValueError):
        return 30


def _note(error):
    """The workspace's last error (or last success), for the admin to show."""
    now = timezone.now()
    if error is None:
        SlackWorkspace.objects.filter(pk=1).update(last_ok_at=now)
        return
    if not SlackWorkspace.objects.filter(pk=1).update(last_error=error, last_error_at=now):
        SlackWorkspace.objects.get_or_create(pk=1, defaults={"last_error": error,
                                                             "last_error_at": now})


def client(token=None):
    return WebClient(token=token or config().bot_token, base_url=settings.SLACK_API_URL,
                     timeout=settings.SLACK_HTTP_TIMEOUT)


def call(method, *, query=None, **arguments):
    """One Web API call (`method` as "chat.postMessage"), its arguments as a JSON body
    (or, for read methods that take no JSON, `query` as a GET's parameters); Slack's
    data, or SlackError."""
    token = config().bot_token
    if not token:
        raise SlackError("Slack is not connected (no bot token).", code="not_connected",
                         permanent=True)
    try:
        if query is not None:
            response = client(token).api_call(method, http_verb="GET", params=query)
        else:
            response = client(token).api_call(method, json=arguments)
    except SlackApiError as exc:
        response = exc.response
        status = getattr(response, "status_code", 0)
        code = (response.data or {}).get("error", "") if isinstance(response.data, dict) else ""
        if status == 429:
            error = SlackError(f"{method}: rate limited by Slack", code=code or "ratelimited",
                               retry_after=_retry_after(response))
        else:
            error = SlackError(f"{method}: {code or f'HTTP {status}'}", code=code,
                               permanent=code in PERMANENT_CODES)
    except (SlackClientError, OSError, ValueError) as exc:
        error = SlackError(f"{method}: could not reach Slack ({type(exc).__name__})")
    else:
        _note(None)
        return response.data
    _note(f"{error}")
    log.warning("Slack call failed: %s", error)
    raise error


def lookup_user_by_email(email):
    """(Slack user id, display name) of the workspace member with this address."""
    data = call("users.lookupByEmail", query={"email": email})
    user = data.get("user") or {}
    profile = user.get("profile") or {}
    name = profile.get("display_name") or profile.get("real_name") or user.get("name") or ""
    return user.get("id", ""), name


def verify_request(body, timestamp, signature):
    """True if Slack signed `body` (bytes) at `timestamp` with our signing secret, within
    the replay window. A missing secret, header or a malformed timestamp is False."""
    secret = config().signing_secret
    if not secret or not timestamp or not signature:
        return False
    try:
        int(timestamp)
    except (TypeError, ValueError):
        return False
    return SignatureVerifier(secret).is_valid(body=body, timestamp=timestamp,
                                              signature=signature)


def user_for_slack_id(slack_user_id):
    """The active person who confirmed this Slack user as theirs, or None."""
    if not slack_user_id:
        return None
    row = (SlackIdentity.objects.select_related("user")
           .filter(slack_user_id=slack_user_id, confirmed_at__isnull=False).first())
    return row.user if row and row.user.is_active else None


def slack_ids_for(users):
    """{user pk: Slack user id} of those among `users` with a confirmed link."""
    pks = [u.pk for u in users if u is not None]
    return dict(SlackIdentity.objects.filter(user_id__in=pks, confirmed_at__isnull=False)
                .values_list("user_id", "slack_user_id"))
