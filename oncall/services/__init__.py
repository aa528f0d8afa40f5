"""The on-call app's writes: every state-changing operation, one function per user
verb, each in a transaction checking who may do it (DESIGN.md "Layers"). Views, the
admin, commands, tasks and on-call files call these; paging itself lives in
paging.py. This package only re-exports its modules."""

from .accounts import (
    sign_in_from_provider,
)
from .people import (
    API_TOKEN_PREFIX,
    PAUSED_BY_OWNER,
    add_contact_method,
    confirm_slack_user,
    create_api_token,
    delete_contact_method,
    find_slack_user,
    profile_for,
    regenerate_calendar_token,
    revoke_api_token,
    set_timezone,
    test_contact_method,
    unlink_slack_user,
    update_contact_method,
    user_for_api_token,
)
from .policies import (
    delete_policy,
    save_policy,
)
from .schedules import (
    EARLIEST_START,
    LATEST_START,
    MAX_CUSTOM_HOURS,
    ROTATION_SHAPE,
    SCHEDULE_FIELDS,
    CommandLine,
    can_edit_overrides,
    can_manage_schedules,
    check_override,
    create_override,
    create_schedule,
    delete_override,
    delete_schedule,
    update_schedule,
)
from .teams import (
    delete_team,
    save_team,
    sync_team_schedules,
    team_rotation_members,
)

__all__ = [
    "API_TOKEN_PREFIX",
    "CommandLine",
    "EARLIEST_START",
    "LATEST_START",
    "MAX_CUSTOM_HOURS",
    "PAUSED_BY_OWNER",
    "ROTATION_SHAPE",
    "SCHEDULE_FIELDS",
    "add_contact_method",
    "can_edit_overrides",
    "can_manage_schedules",
    "check_override",
    "confirm_slack_user",
    "create_api_token",
    "create_override",
    "create_schedule",
    "delete_contact_method",
    "delete_override",
    "delete_policy",
    "delete_schedule",
    "delete_team",
    "find_slack_user",
    "profile_for",
    "regenerate_calendar_token",
    "revoke_api_token",
    "save_policy",
    "save_team",
    "set_timezone",
    "sign_in_from_provider",
    "sync_team_schedules",
    "team_rotation_members",
    "test_contact_method",
    "unlink_slack_user",
    "update_contact_method",
    "update_schedule",
    "user_for_api_token",
]
