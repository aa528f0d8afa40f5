"""The checklists every incident carries: triage (handbook §3.2) and recovery (§3.4).

Pure data. Each item is (phase, text); `declare_incident` copies them onto the
incident so ticking one records who and when on that incident alone.
"""

TRIAGE = "triage"
RESTORATION = "restoration"
VERIFICATION = "verification"
CLOSURE = "closure"

# Items the system observes happen (issue 17, item 9) and ticks, saying why; the
# IC can untick any of them.
ACKNOWLEDGE_ALERT = "Acknowledge the alert"
CLASSIFY_SEVERITY = "Classify severity with the decision tree"
ASSIGN_ROLES = "Assign roles: Incident Commander, Technical Lead, Communications Lead"
CREATE_CHANNEL = "Create the incident channel"
POST_INITIAL_UPDATE = "Post the initial status update"
# Closure items the resolve step itself fulfils when it sends the matching update
# (issue 17, item 2) or archives the channel.
UPDATE_STATUS_PAGE = 'Update status page to "Resolved"'
SEND_FINAL_COMMUNICATION = "Send final customer communication"
ARCHIVE_CHANNEL = "Archive incident channel"

PHASE_LABELS = {
    TRIAGE: "Triage (§3.2)",
    RESTORATION: "Service restoration (§3.4)",
    VERIFICATION: "Verification (§3.4)",
    CLOSURE: "Incident closure (§3.4)",
}

ITEMS = {
    TRIAGE: (
        ACKNOWLEDGE_ALERT,
        "Join #incident-response",
        "Create the incident ticket if not auto-created",
        "Identify the affected service/component",
        "Assess the customer impact",
        "Establish when the issue started",
        "Check recent deployments or changes",
        CLASSIFY_SEVERITY,
        "Notify the appropriate stakeholders",
        "For SEV-1/SEV-2: page additional responders",
        ASSIGN_ROLES,
        CREATE_CHANNEL,
        POST_INITIAL_UPDATE,
    ),
    RESTORATION: (
        "Implement fix/rollback",
        "Verify fix in staging (if time permits)",
        "Deploy fix to production",
        "Monitor for 15 minutes after fix",
        "Verify all health checks passing",
        "Confirm customer-facing functionality",
    ),
    VERIFICATION: (
        "All services showing healthy",
        "Error rates returned to baseline",
        "Latency returned to normal",
        "No new alerts triggered",
        "Customer reports resolved",
    ),
    CLOSURE: (
        UPDATE_STATUS_PAGE,
        SEND_FINAL_COMMUNICATION,
        "Update incident ticket with resolution",
        "Schedule post-incident review",
        ARCHIVE_CHANNEL,
    ),
}


def all_items():
    """(phase, position, text) for every item, in display order."""
    position = 0
    for phase, texts in ITEMS.items():
        for text in texts:
            position += 1
            yield phase, position, text
