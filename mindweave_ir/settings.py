"""Settings for MindWeave IR, read from the environment (see .env.example).

With no environment at all the project runs embedded: SQLite and a filesystem
broker under var/. DATABASE_URL and REDIS_URL switch to PostgreSQL and Redis. The
local demo's `.env` (written by `make install`) is read when present; the real
environment wins over it. DEBUG is off unless asked for, and without DEBUG a SECRET_KEY is required.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from dotenv import load_dotenv

BASE_DIR = Path(__file__).resolve().parent.parent

# The local demo's file (mindweave_ir/localenv.py), when present; the real environment
# wins over it. MINDWEAVE_ENV_FILE names another file, or (empty) none at all.
ENV_FILE = os.environ.get("MINDWEAVE_ENV_FILE", str(BASE_DIR / ".env"))
if ENV_FILE and Path(ENV_FILE).is_file():
    load_dotenv(ENV_FILE, override=False)

VAR_DIR = Path(os.environ.get("MINDWEAVE_VAR_DIR", BASE_DIR / "var"))


def env_bool(name, default):
    """Read a boolean: only 'true' or 'false' (any case) are accepted."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() == "true":
        return True
    if raw.lower() == "false":
        return False
    raise ImproperlyConfigured(f"{name} must be 'true' or 'false', not {raw!r}")


def env_int(name, default):
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}") from None


def env_list(name, default):
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is not true")
    # DEBUG only (bandit B105).
    SECRET_KEY = "insecure-development-key-only-used-with-DEBUG-true"  # nosec B105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "django_tables2",
    "django_filters",
    "axes",
    "mindweave_ir",
    "mindweave_ir.live",
    "oncall",
    "incidents",
    "reports",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "mindweave_ir.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "mindweave_ir.middleware.RefuseBadCharactersMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    # Django's AuthenticationMiddleware, with the signed-in user kept in the cache
    # (mindweave_ir/usercache.py): no query per request before the view.
    "mindweave_ir.usercache.CachedUserMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "oncall.middleware.UserTimezoneMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes asks
]
# The token-authenticated inbound endpoints (alert webhooks, the Events API, heartbeat
# pings; mindweave_ir/wsgi.py routes them) run MIDDLEWARE without these, which do
# nothing for a webhook (no session, user, form, message or login there) and cost
# CPU on every alert. Security headers, bad-character refusal and errors are kept.
INBOUND_SKIPPED_MIDDLEWARE = {
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "mindweave_ir.usercache.CachedUserMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "oncall.middleware.UserTimezoneMiddleware",
    "axes.middleware.AxesMiddleware",
}
INBOUND_MIDDLEWARE = [m for m in MIDDLEWARE if m not in INBOUND_SKIPPED_MIDDLEWARE]

# Login rate limiting (django-axes): after LOGIN_FAILURE_LIMIT wrong passwords for one
# username from one address, that pair is refused (HTTP 429) for the cool-off time; after
# LOGIN_ADDRESS_FAILURE_LIMIT wrong passwords from one address across all usernames
# (password spraying), that address is refused (mindweave_ir/logins.py).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
LOGIN_ADDRESS_FAILURE_LIMIT = env_int("LOGIN_ADDRESS_FAILURE_LIMIT", 20)
AXES_FAILURE_LIMIT = "mindweave_ir.logins.failure_limit"
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"

# --- Single sign-on (README "Single sign-on"; oncall/sso.py) ------------------------------
# OpenID Connect through mozilla-django-oidc: on when a client id and the provider (its
# discovery URL, read at the first sign-in, or its endpoints) are set. Authorization
# code flow with PKCE (S256), state and nonce; roles from a groups claim at every sign-in.
OIDC_RP_CLIENT_ID = os.environ.get("OIDC_RP_CLIENT_ID", "")
OIDC_RP_CLIENT_SECRET = os.environ.get("OIDC_RP_CLIENT_SECRET", "")
OIDC_DISCOVERY_URL = os.environ.get("OIDC_DISCOVERY_URL", "")
OIDC_OP_ISSUER = os.environ.get("OIDC_OP_ISSUER", "")
OIDC_OP_AUTHORIZATION_ENDPOINT = os.environ.get("OIDC_OP_AUTHORIZATION_ENDPOINT", "")
OIDC_OP_TOKEN_ENDPOINT = os.environ.get("OIDC_OP_TOKEN_ENDPOINT", "")
OIDC_OP_USER_ENDPOINT = os.environ.get("OIDC_OP_USER_ENDPOINT", "")
OIDC_OP_JWKS_ENDPOINT = os.environ.get("OIDC_OP_JWKS_ENDPOINT", "")
OIDC_OP_LOGOUT_ENDPOINT = os.environ.get("OIDC_OP_LOGOUT_ENDPOINT", "")
OIDC_RP_SIGN_ALGO = os.environ.get("OIDC_RP_SIGN_ALGO", "RS256")
OIDC_RP_SCOPES = os.environ.get("OIDC_RP_SCOPES", "openid email profile")
OIDC_USERNAME_CLAIM = os.environ.get("OIDC_USERNAME_CLAIM", "preferred_username")
OIDC_GROUPS_CLAIM = os.environ.get("OIDC_GROUPS_CLAIM", "groups")
# "group=Role,group=Role", e.g. "ir-managers=Manager,ir-ics=Incident Commander";
# people in none of the groups are refused, unless OIDC_DEFAULT_ROLE names a role.
OIDC_ROLE_GROUPS = os.environ.get("OIDC_ROLE_GROUPS", "")
OIDC_DEFAULT_ROLE = os.environ.get("OIDC_DEFAULT_ROLE", "")
OIDC_PROVIDER_NAME = os.environ.get("OIDC_PROVIDER_NAME", "single sign-on")
OIDC_TIMEOUT = env_int("OIDC_TIMEOUT", 10)
OIDC_USE_PKCE = True
OIDC_PKCE_CODE_CHALLENGE_METHOD = "S256"
OIDC_USE_NONCE = True
OIDC_STORE_ID_TOKEN = True  # the end-session endpoint's id_token_hint
OIDC_OP_LOGOUT_URL_METHOD = "oncall.sso.provider_logout_url"
# LOCAL_LOGIN=false: no password sign-in anywhere (login page, admin); API tokens, iCal
# tokens and one-click acknowledgement links keep working.
LOCAL_LOGIN = env_bool("LOCAL_LOGIN", True)
if not LOCAL_LOGIN:
    AUTHENTICATION_BACKENDS.remove("django.contrib.auth.backends.ModelBackend")
if OIDC_RP_CLIENT_ID:
    AUTHENTICATION_BACKENDS.append("oncall.sso.SingleSignOnBackend")
# Sign-ons are not password guesses: neither counted nor refused by django-axes.
AXES_WHITELIST_CALLABLE = "mindweave_ir.logins.is_single_sign_on"

ROOT_URLCONF = "mindweave_ir.urls"
WSGI_APPLICATION = "mindweave_ir.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "builtins": ["template_partials.templatetags.partials"],
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.config(
        env="DATABASE_URL",
        default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share the file: wait for locks, take write locks up front.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # Tests run Celery workers in threads: an in-memory shared-cache database fails
    # them with "table is locked" at once, where a file waits for the lock.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "incidents:dashboard"
LOGOUT_REDIRECT_URL = "login"
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 60 * 60 * 12)
# What the cached signed-in user carries with it (mindweave_ir/usercache.py): the
# profile every page reads for its time zone.
USER_CACHE_RELATED = ["profile"]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# Date-times Django formats itself name their zone (mindweave_ir/formats/en/formats.py).
FORMAT_MODULE_PATH = ["mindweave_ir.formats"]

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG

DJANGO_TABLES2_TEMPLATE = "tables/htmx_table.html"

# --- Cache ---------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    # Django's RedisCache, reusing its Redis client (mindweave_ir/cache.py says why).
    CACHES = {"default": {"BACKEND": "mindweave_ir.cache.ReusedClientRedisCache",
                          "LOCATION": REDIS_URL}}
    # Sessions read from Redis, written through to the database (which keeps them
    # across a Redis restart): a logged-in request reads no session row.
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Celery --------------------------------------------------------------
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
else:
    # Embedded: kombu's filesystem transport needs no server. One folder serves as
    # both inbox and outbox so web, worker and beat on this machine share the queue.
    _broker_dir = VAR_DIR / "broker"
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE = {
    # Escalation and page notifications are the paging engine's (run_paging_engine),
    # not beat's: the tick only resends notices whose wake-up was lost.
    "oncall-tick": {"task": "oncall.tasks.tick", "schedule": 10.0},
    "oncall-audit": {"task": "oncall.tasks.audit", "schedule": 60.0},
    "reports-reminders": {"task": "reports.tasks.send_reminders", "schedule": 3600.0},
    "reports-handoffs": {"task": "reports.tasks.handoff_tick", "schedule": 60.0},
    "incidents-note-sla-breaches": {
        "task": "incidents.tasks.note_sla_breaches",
        "schedule": 60.0,
    },
    "incidents-comms-tick": {"task": "incidents.tasks.comms_tick", "schedule": 60.0},
    "incidents-check-heartbeats": {"task": "incidents.tasks.check_heartbeats",
                                   "schedule": 60.0},
    "incidents-automations": {"task": "incidents.tasks.run_automations", "schedule": 30.0},
    "incidents-drain-inbound": {"task": "incidents.tasks.drain_stale_inbound", "schedule": 10.0},
    "incidents-slack-tick": {"task": "incidents.tasks.slack_tick", "schedule": 30.0},
    # Proves beat (and a worker) still run: /metrics shows its last run.
    "oncall-beat-heartbeat": {"task": "oncall.tasks.beat_heartbeat", "schedule": 15.0},
}

# --- Paging --------------------------------------------------------------
# The address people reach this site at: used in notifications' links.
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
NOTIFICATION_HTTP_TIMEOUT = env_int("NOTIFICATION_HTTP_TIMEOUT", 5)
# The paging engine (manage.py run_paging_engine): the longest wait between two loops
# over due steps and notifications (a trigger wakes it at once on PostgreSQL), and its
# threads sending page notifications (one receiver gets at most half of them).
PAGING_ENGINE_INTERVAL_MS = env_int("PAGING_ENGINE_INTERVAL_MS", 500)
PAGING_SEND_THREADS = env_int("PAGING_SEND_THREADS", 16)
# Webhooks, Slack and automation URLs are never sent to internal addresses (loopback,
# private, link-local, CGNAT, unique-local, reserved; mindweave_ir/outbound.py) except
# inside these comma-separated CIDRs, for on-premise receivers, e.g. "10.20.0.0/16".
OUTBOUND_ALLOWED_NETWORKS = env_list("OUTBOUND_ALLOWED_NETWORKS", [])
# SMS and voice contact methods (oncall/phone.py): all three set, or SMS and voice are
# off (people cannot add them). The auth token also checks Twilio's webhook signatures.
# TWILIO_API_BASE is Twilio's REST address; only tests (a fake on 127.0.0.1) change it.
TWILIO_ACCOUNT_SID = os.environ.get("TWILIO_ACCOUNT_SID", "")
TWILIO_AUTH_TOKEN = os.environ.get("TWILIO_AUTH_TOKEN", "")
TWILIO_FROM_NUMBER = os.environ.get("TWILIO_FROM_NUMBER", "")
TWILIO_API_BASE = os.environ.get("TWILIO_API_BASE", "https://api.twilio.com").rstrip("/")
# CloudWatch alarms through SNS (incidents/ingest/sns.py): the only hosts a signing
# certificate is fetched from and a subscription confirmed at (a regex over the host
# name, https only), and the CA file to trust for them (empty: the system's). Not read
# from the environment: only tests change these, to a server on 127.0.0.1.
SNS_HOST_PATTERN = r"sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?"
SNS_CA_FILE = ""

# --- Monitoring the pager (README "Monitoring the pager") ------------------------
# /metrics answers a scraper that sends "Authorization: Bearer <METRICS_TOKEN>" or
# connects from inside METRICS_ALLOWED_NETWORKS (comma-separated CIDRs, matched against
# the peer address); with neither set it answers 404. Escalation lateness is a
# histogram over notifications due in the last METRICS_LATENESS_WINDOW_MINUTES.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
METRICS_ALLOWED_NETWORKS = env_list("METRICS_ALLOWED_NETWORKS", [])
METRICS_LATENESS_WINDOW_MINUTES = env_int("METRICS_LATENESS_WINDOW_MINUTES", 60)
# Dead-man's switch: each paging engine POSTs to DEADMAN_URL every DEADMAN_INTERVAL
# seconds while it is healthy (oncall/deadman.py), through the outbound client (so an
# on-premise receiver needs OUTBOUND_ALLOWED_NETWORKS); each ping gives up after
# DEADMAN_TIMEOUT seconds. Empty: no pings.
DEADMAN_URL = os.environ.get("DEADMAN_URL", "")
DEADMAN_INTERVAL = env_int("DEADMAN_INTERVAL", 60)
DEADMAN_TIMEOUT = env_int("DEADMAN_TIMEOUT", 10)

# --- Slack app (README "Slack") ------------------------------------------------
# The bot token and signing secret of the Slack app; when unset here, Managers may
# store them in the admin (Slack workspace). With neither, nothing talks to Slack.
SLACK_BOT_TOKEN = os.environ.get("SLACK_BOT_TOKEN", "")
SLACK_SIGNING_SECRET = os.environ.get("SLACK_SIGNING_SECRET", "")
# Slack's Web API (tests point it at a local fake); seconds per call.
SLACK_API_URL = os.environ.get("SLACK_API_URL", "https://slack.com/api/")
SLACK_HTTP_TIMEOUT = env_int("SLACK_HTTP_TIMEOUT", 10)

# --- Handoffs -------------------------------------------------------------
# The draft of a shift's handoff is made, and its outgoing on-call reminded, this long
# before the shift ends; an unacknowledged handoff reminds the outgoing on-call and
# the schedule's escalation this long after the incoming shift began.
HANDOFF_PREPARE_LEAD_MINUTES = env_int("HANDOFF_PREPARE_LEAD_MINUTES", 120)
HANDOFF_ACK_REMINDER_MINUTES = env_int("HANDOFF_ACK_REMINDER_MINUTES", 30)

# --- Security --------------------------------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SESSION_COOKIE_HTTPONLY = True
# Scripts only from our own static files (no inline script anywhere); inline styles are
# allowed for the Django admin's widgets.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True

# --- E-mail --------------------------------------------------------------
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
if DEBUG and not os.environ.get("EMAIL_HOST"):
    # The demo prints e-mail to the worker's console instead of needing an SMTP server.
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "mindweave-ir@localhost")

# Tokens in URLs (integration and heartbeat paths, one-click acknowledgement links,
# ?token= of the iCal feeds) are masked in every line: the filter sits on both handlers
# and on the loggers that print request paths (mindweave_ir/redaction.py).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"mask_tokens": {"()": "mindweave_ir.redaction.MaskTokensFilter"}},
    "formatters": {
        # Django's own format for runserver's request lines (django.utils.log).
        "django.server": {"()": "django.utils.log.ServerFormatter",
                          "format": "[{server_time}] {message}", "style": "{"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["mask_tokens"]},
        "django.server": {"class": "logging.StreamHandler", "formatter": "django.server",
                          "filters": ["mask_tokens"]},
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO"),
             "filters": ["mask_tokens"]},
    "loggers": {
        # Django's own handlers for "django" (a console copy under DEBUG, mail_admins)
        # would print its records unmasked: they go to the root's console instead.
        "django": {"handlers": []},
        "django.request": {"filters": ["mask_tokens"]},
        "django.server": {"handlers": ["django.server"], "level": "INFO",
                          "propagate": False, "filters": ["mask_tokens"]},
        # WeasyPrint reports every rendering step at INFO; only its problems matter here.
        "weasyprint": {"level": "WARNING"}, "fontTools": {"level": "WARNING"},
        # The twilio library logs every request's URL and headers at INFO (never the
        # Authorization header); oncall's own lines say what was sent to whom.
        "twilio": {"level": "WARNING"},
    },
}
