"""Inbound alerts: integrations and their tokens (integrations.py), bodies parsed into
messages (parse.py, pure), authenticated and stored, locked under and settled in SQL
(store.py), received and drained under the integration's lock (receive.py, whose
docstring has the rules), and applied to alerts and incidents one message at a time
(apply.py). CloudWatch alarms come as SNS messages, verified (sns.py), parsed
(cloudwatch.py, pure) and stored with their subscription's state (subscriptions.py).
This package only re-exports what the rest of the app uses.
"""

from .integrations import (
    IntegrationError,
    create_integration,
    integration_for_token,
    regenerate_token,
)
from .parse import Message, PayloadError, load_json, routing_key_of
from .receive import (
    MAX_BODY_BYTES,
    QUEUED,
    Receipt,
    drain,
    drain_stale,
    mark_failed,
    raise_internal,
    receive_alertmanager,
    receive_event,
)
from .sns import SnsInvalid, SnsRefused, SnsUnavailable, verified_message
from .store import Stored, store_for_token, store_payload
from .subscriptions import (
    SnsReceipt,
    confirm_again,
    confirm_subscription,
    duplicate_of,
    receive_sns,
    store_sns_message,
)
from .wake import enqueue_drain

__all__ = [
    "MAX_BODY_BYTES",
    "QUEUED",
    "IntegrationError",
    "Message",
    "PayloadError",
    "Receipt",
    "SnsInvalid",
    "SnsReceipt",
    "SnsRefused",
    "SnsUnavailable",
    "Stored",
    "confirm_again",
    "confirm_subscription",
    "create_integration",
    "drain",
    "drain_stale",
    "duplicate_of",
    "enqueue_drain",
    "integration_for_token",
    "load_json",
    "mark_failed",
    "raise_internal",
    "receive_alertmanager",
    "receive_event",
    "receive_sns",
    "regenerate_token",
    "routing_key_of",
    "store_for_token",
    "store_payload",
    "store_sns_message",
    "verified_message",
]
