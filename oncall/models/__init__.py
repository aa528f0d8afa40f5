"""People, schedules, escalation policies and pages (handbook §2).

`oncall` knows nothing of incidents: a page carries its own title, severity, link
and dedup key, and a `source` string its sender understands. One module per feature;
this package only re-exports.
"""

# Migrations name these as oncall.models.<name>: keep them reachable here.
from ..tokens import new_token
from .pages import (
    OPEN_PAGE_STATUSES,
    Delivery,
    DeliveryStatus,
    EngineHeartbeat,
    Notice,
    Notification,
    Page,
    PageEvent,
    PageEventKind,
    PageStatus,
)
from .people import (
    PHONE_KINDS,
    ApiToken,
    ContactKind,
    ContactMethod,
    Profile,
    known_timezones,
    validate_timezone,
)
from .policies import (
    EscalationLevel,
    EscalationPolicy,
)
from .schedules import (
    Coverage,
    Override,
    RotationKind,
    Schedule,
    ScheduleMember,
    Weekday,
)
from .slack import (
    SlackIdentity,
    SlackWorkspace,
)
from .teams import (
    Team,
    TeamMember,
)

__all__ = [
    "new_token",
    "ApiToken",
    "ContactKind",
    "ContactMethod",
    "Coverage",
    "Delivery",
    "DeliveryStatus",
    "EngineHeartbeat",
    "EscalationLevel",
    "EscalationPolicy",
    "Notice",
    "Notification",
    "OPEN_PAGE_STATUSES",
    "Override",
    "Page",
    "PageEvent",
    "PageEventKind",
    "PageStatus",
    "PHONE_KINDS",
    "Profile",
    "RotationKind",
    "Schedule",
    "ScheduleMember",
    "SlackIdentity",
    "SlackWorkspace",
    "Team",
    "TeamMember",
    "Weekday",
    "known_timezones",
    "validate_timezone",
]
