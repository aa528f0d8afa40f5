"""Inbound alerts: integrations and their tokens (integrations.py), bodies parsed into
messages (parse.py, pure), authenticated and stored, locked under and settled in SQL
(store.py), received and drained under the integration's lock (receive.py, whose
docstring has the rules), and applied to alerts and incidents one message at a time
(apply.py). This package only re-exports what the rest of the app
uses.
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
    enqueue_drain,
    mark_failed,
    raise_internal,
    receive_alertmanager,
    receive_event,
)
from .store import Stored, store_for_token, store_payload

__all__ = [
    "MAX_BODY_BYTES",
    "QUEUED",
    "IntegrationError",
    "Message",
    "PayloadError",
    "Receipt",
    "Stored",
    "create_integration",
    "drain",
    "drain_stale",
    "enqueue_drain",
    "integration_for_token",
    "load_json",
    "mark_failed",
    "raise_internal",
    "receive_alertmanager",
    "receive_event",
    "regenerate_token",
    "routing_key_of",
    "store_for_token",
    "store_payload",
]
