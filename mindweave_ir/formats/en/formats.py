"""Every date-and-time Django prints by itself (the admin's read-only fields and list
columns, a bare `{{ value }}` or `|date` in a template) names its zone, in the form the
app's `when` filter uses: `2026-12-11 02:50 CET` - except a time in the repeated hour of
a DST change, where Django prints no zone at all (it cannot tell CEST from CET by the
wall time); so the times that matter there (PIR and audit-trail admin) go through
`when` (reports.admin.common.shown_time). The value is already in the viewer's
zone (oncall.middleware activates it for every request, the admin's included), or in
UTC where a renderer overrides it (PDFs, e-mails from workers). Input formats stay
Django's.
"""

DATETIME_FORMAT = "Y-m-d H:i T"
SHORT_DATETIME_FORMAT = "Y-m-d H:i T"
