"""The managers' admin for incidents, one module per feature; each registers its own
admins when imported, which is all this package does."""

from . import (  # noqa: F401 - registering the admins
    alerts,
    automation,
    comms,
    incidents,
    runbooks,
    silences,
    triage,
)
