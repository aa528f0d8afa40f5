"""Keeping secrets out of what we print: URLs shown to people, and every log line.

Several URLs carry their own credential: an integration's or heartbeat's token in the
path (`/api/v1/integrations/<token>/alertmanager`, `/api/v1/heartbeats/<token>/ping`),
a one-click acknowledgement's signed token (`/oncall/ack/<token>/`), an iCal feed's
`?token=`, a Slack webhook's path. Django prints request paths in its own log lines
("Internal Server Error: /api/v1/integrations/…", runserver's request lines), so
`MaskTokensFilter` rewrites every record that passes through the configured loggers
and handlers (settings.LOGGING).
"""

import logging
import re
from urllib.parse import urlsplit

MASK = "[masked]"

# The part of each pattern kept, then the secret replaced by MASK.
_SECRET_PATTERNS = [
    # Path segments that are credentials (mindweave_ir/urls.py, oncall/urls.py).
    re.compile(r"(/api/v1/integrations/)[^/?#\s\"']+"),
    re.compile(r"(/api/v1/heartbeats/)[^/?#\s\"']+"),
    re.compile(r"(/oncall/ack/)[^/?#\s\"']+"),
    # Slack-style webhook URLs: the whole path is the secret.
    re.compile(r"(hooks\.slack\.com/services/)[^?#\s\"']+"),
    # Query values whose name says secret: ?token=, &key=, routing_key=, signature=...
    re.compile(r"([?&;][\w.-]*(?:token|key|secret|signature|password)[\w.-]*=)[^&;#\s\"']+",
               re.IGNORECASE),
    # An Authorization header echoed somewhere.
    re.compile(r"(\bBearer\s+)[\w.~+/=-]+", re.IGNORECASE),
]


def mask_tokens(text: str) -> str:
    """`text` with every credential-looking URL part replaced by MASK."""
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + MASK, text)
    return text


def redact_url(url: str) -> str:
    """Show where a URL points without its path, query or credentials (they hold tokens)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<invalid URL>"
    if ":" in host:
        host = f"[{host}]"
    tail = "/…" if parts.path.strip("/") or parts.query else ""
    return f"{parts.scheme}://{host}{port}{tail}"


class MaskTokensFilter(logging.Filter):
    """Mask tokens in a record's message, its arguments and its traceback; drop nothing.

    The record is rewritten in place, so every handler after this filter (and every
    parent logger's handler, for a logger-level filter) prints the masked text. Only
    a record that holds a secret is touched: it is then formatted once, here, and its
    `args` emptied (Django's own formatters read `status_code` and `server_time` from
    the record, not from `args`).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken record is the logging module's to report
            return True
        masked = mask_tokens(message)
        if masked != message:
            record.msg, record.args = masked, ()
        if record.exc_info and not record.exc_text:
            # Formatted here so the traceback's text can be masked too (the formatter
            # reuses exc_text when it is set).
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_tokens(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_tokens(record.stack_info)
        return True
