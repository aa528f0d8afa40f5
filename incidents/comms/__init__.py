"""Communications at work (handbook §5): composing an update from a template, delivering
it to its recipients, and the §5.3 cadence of status updates.

The writes a person makes (send, resend, set the Slack webhook, resolve with updates)
are services/comms.py; these are what they and the beat use: `compose` (what an
update says and where it goes), `delivery` (each recipient at most once) and
`cadence` (when the next update is due, and the reminder when it is late).
"""
