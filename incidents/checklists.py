"""The checklists every incident carries: triage (handbook §3.2) and recovery (§3.4).

Pure data. Each item is (phase, text); `declare_incident` copies them onto the
incident so ticking one records who and when on that incident alone.
"""

TRIAGE = "triage"
RESTORATION = "restoration"
VERIFICATION = "verification"
CLOSURE = "closure"

PHASE_LABELS = {
    TRIAGE: "Triage (§3.2)",
    RESTORATION: "Service restoration (§3.4)",
    VERIFICATION: "Verification (§3.4)",
    CLOSURE: "Incident closure (§3.4)",
}

ITEMS = {
    TRIAGE: (
        "Acknowledge the alert",
        "Join #incident-response",
        "Create the incident ticket if not auto-created",
        "Identify the affected service/component",
        "Assess the customer impact",
        "Establish when the issue started",
        "Check recent deployments or changes",
        "Classify severity with the decision tree",
        "Notify the appropriate stakeholders",
        "For SEV-1/SEV-2: page additional responders",
        "Assign roles: Incident Commander, Technical Lead, Communications Lead",
        "Create the incident channel",
        "Post the initial status update",
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
        'Update status page to "Resolved"',
        "Send final customer communication",
        "Update incident ticket with resolution",
        "Schedule post-incident review",
        "Archive incident channel",
    ),
}


def all_items():
    """(phase, position, text) for every item, in display order."""
    position = 0
    for phase, texts in ITEMS.items():
        for text in texts:
            position += 1
            yield phase, position, text
