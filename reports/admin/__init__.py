"""The managers' admin: post-incident reviews (handbook §3.5, §7.1) in `pir` and
`action_items` (shared pieces in `common`), the shift checklist and the on-call log
in `handoffs`.

Managers run reviews here as on the dashboard, and every write goes through
reports.services.pir the same way: a section, the whys, the factors, prevention
measures and action items are each saved by their service, so each change is audited
(PIRChange) and bumps the review's version. The change form carries the version it was loaded
with; if someone saved since, the form is refused with who and when, and the
manager's input stays on the page. The workflow (send for review, approve, reopen)
is admin actions and buttons calling the services, never an editable `state`. An
approved review is read-only; only reopening, and action items' status, move it on.
"""

from . import action_items, handoffs, pir  # noqa: F401 - registering the admins
