"""Weekly on-call handoffs and shift checklists (handbook §2.2, §2.3).

- `shifts`: which shift of a schedule contains an instant, and who hands to whom.
- `activity`: everything a shift saw, gathered for the outgoing on-call.
- `services`: every write (drafts, checklist ticks, handing off, acknowledging).
- `reminders`: the beat's work (drafts before each shift ends, reminders).
"""
