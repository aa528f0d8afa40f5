"""Demo data, no database access: services, demo users and the text bulk incidents draw on.

Demo data only: the shared password below must never reach production settings.
"""

from dataclasses import dataclass

from incidents import classification
from incidents.models import DetectionSource, Status, TimelineKind
from oncall.roles import Role

# The documented demo password, DESIGN.md (bandit B105).
PASSWORD = "mindweave-demo"  # nosec B105

SERVICES = [
    ("API Gateway", "api-gateway", "Public REST API edge: routing, auth, rate limits."),
    ("Web App", "web-app", "The customer-facing web application."),
    ("Payments", "payments", "Checkout, card payments and invoicing."),
    ("Auth", "auth", "Login, SSO, sessions and API keys."),
    ("Search", "search", "Indexing and search queries."),
    ("Notifications", "notifications", "E-mail, push and webhook delivery."),
    ("Data Pipeline", "data-pipeline", "Event ingestion, nightly jobs and reports."),
    ("Internal Tools", "internal-tools", "Admin dashboards and back-office tools."),
]


@dataclass(frozen=True)
class DemoUser:
    username: str
    first_name: str
    last_name: str
    role: str
    tz: str
    is_staff: bool = False


USERS = [
    DemoUser("ic", "Iris", "Calder", Role.INCIDENT_COMMANDER, "America/New_York"),
    DemoUser("responder", "Ravi", "Shah", Role.RESPONDER, "Europe/London"),
    DemoUser("manager", "Marta", "Keller", Role.MANAGER, "Europe/Berlin", is_staff=True),
    DemoUser("viewer", "Victor", "Okafor", Role.VIEWER, "UTC"),
    DemoUser("amara", "Amara", "Nwosu", Role.RESPONDER, "Africa/Lagos"),
    DemoUser("bjorn", "Bjorn", "Lindqvist", Role.RESPONDER, "Europe/Stockholm"),
    DemoUser("chen", "Chen", "Wei", Role.RESPONDER, "Asia/Singapore"),
    DemoUser("diego", "Diego", "Alvarez", Role.RESPONDER, "America/Sao_Paulo"),
    DemoUser("elena", "Elena", "Popescu", Role.RESPONDER, "Europe/Bucharest"),
    DemoUser("vp", "Valeria", "Pike", Role.MANAGER, "America/Los_Angeles", is_staff=True),
]
LOGINS = ["ic", "responder", "manager", "viewer"]


NO_ANSWERS = {q: classification.NO for q in classification.QUESTION_KEYS}


def answers(**yes):
    """Decision-tree answers: "no" up to the first key given "yes"."""
    out = {}
    for key in classification.QUESTION_KEYS:
        out[key] = classification.YES if key in yes else classification.NO
        if key in yes:
            break
    return out


# --- Text for the bulk incidents --------------------------------------------------

TITLES = [
    "Elevated 5xx error rate on {service}",
    "{service} p99 latency above 2 seconds",
    "{service} unavailable in eu-west-1",
    "{service} pods crash-looping after deploy",
    "Database connection pool exhausted on {service}",
    "Expired TLS certificate on {service} endpoint",
    "Message backlog growing on {service} consumers",
    "{service} workers OOMKilled repeatedly",
    "Disk usage above 90% on {service} nodes",
    "Third-party outage degrading {service}",
    "Customers report missing data in {service}",
    "Rate limiting misconfigured on {service}",
    "DNS resolution failures for {service}",
    "Cache hit ratio collapsed on {service}",
    "Health checks flapping on {service}",
]
IMPACTS = {
    1: "Complete outage: no customer can use {service}.",
    2: "Major degradation: most requests to {service} fail or are very slow.",
    3: "Some customers see errors or slowness in {service}.",
    4: "No customer-facing impact; internal only.",
}
SOURCE_WEIGHTS = {
    DetectionSource.DATADOG: 30, DetectionSource.PAGERDUTY: 20,
    DetectionSource.CLOUDWATCH: 15, DetectionSource.MONITORING: 10,
    DetectionSource.CUSTOMER_SUPPORT: 12, DetectionSource.ENGINEERING: 8,
    DetectionSource.STATUS_PAGE: 3, DetectionSource.OTHER: 2,
}
SEVERITY_WEIGHTS = {1: 8, 2: 22, 3: 40, 4: 30}
OPEN_STATUSES = [s for s in Status if s != Status.RESOLVED]
RESOLUTIONS = [
    "Rolled back the faulty release; error rates back to baseline.",
    "Scaled out the affected tier and added an alert on saturation.",
    "Renewed the expired certificate and fixed the renewal job.",
    "Failed over to the standby database; the old primary was rebuilt.",
    "The upstream provider fixed their outage; we monitored until stable.",
    "Killed the runaway query and added a statement timeout.",
    "Raised memory limits and fixed the leak in the worker.",
    "Corrected the rate-limit configuration and redeployed.",
    "Restarted the stuck consumers and drained the backlog.",
    "Flushed the stale DNS records and lowered the TTL.",
    "Transient network issue at the cloud provider; recovered on its own.",
    "Reverted the feature flag and restored normal behaviour.",
]
OVERRIDE_REASONS = [
    "Our largest customers are the ones affected.",
    "Impact is narrower than the tree suggests; one internal team only.",
    "Revenue-critical path; treating it one level higher.",
]
ESCALATION_REASONS = [
    "Impact spread to more customers than first thought.",
    "Error rate passed 50% of requests.",
    "A workaround failed; the outage is now complete for some regions.",
]
STATUS_NOTES = ["", "", "Posting an update in the incident channel.",
                "Next update in 30 minutes."]
WAIVE_REASONS = {
    'Update status page to "Resolved"': "Not posted on the status page: no customer impact.",
    "Send final customer communication": "No customer-facing impact; nothing to send.",
    "Schedule post-incident review": "Covered by the weekly review of minor incidents.",
    "Archive incident channel": "Channel kept open for the follow-up migration work.",
}
MANUAL_ENTRIES = [
    (TimelineKind.NOTE, "Posted an update in the incident channel; next update in 30 minutes."),
    (TimelineKind.FINDING, "Error spike lines up with the last deploy; diffing the config."),
    (TimelineKind.ACTION, "Rolled back to the previous release with `kubectl rollout undo`."),
    (TimelineKind.FINDING, "Dashboards show p99 latency at **4.2 s** (baseline 300 ms)."),
    (TimelineKind.NOTE, "Customer Support reports 14 tickets mentioning the issue."),
    (TimelineKind.ACTION, "Scaled the deployment from 6 to 12 replicas."),
    (TimelineKind.FINDING, "Database CPU at 95%; the slow query log is one report query."),
    (TimelineKind.ACTION, "Killed the long-running query and added a statement timeout."),
    (TimelineKind.NOTE, "Status page updated: *Investigating*."),
    (TimelineKind.FINDING, "Connection pool saturated:\n\n- active: 100/100\n- waiting: 340"),
    (TimelineKind.ACTION, "Failed over the primary database to the standby."),
    (TimelineKind.NOTE, "Opened a P1 case with the vendor's support."),
    (TimelineKind.FINDING, "The upstream provider confirms a partial outage on their side."),
    (TimelineKind.ACTION, "Enabled the `degraded-mode` flag to serve cached results."),
    (TimelineKind.NOTE, "Handing over technical lead duties at shift change."),
    (TimelineKind.ACTION, "Drained the unhealthy node and cordoned it for investigation."),
    (TimelineKind.FINDING, "Logs show `OOMKilled` for worker pods every ~20 minutes."),
    (TimelineKind.ACTION, "Raised memory limits to 2 GiB and restarted the workers."),
    (TimelineKind.NOTE, "Executive summary sent to #incidents."),
    (TimelineKind.FINDING, "Only customers on the EU shard are affected."),
    (TimelineKind.ACTION, "Purged the CDN cache for `/static/app.*`."),
    (TimelineKind.NOTE, "Error rate trending down, now at 1.2%."),
    (TimelineKind.FINDING, "The renewal job for this certificate has failed silently for a "
                           "week."),
    (TimelineKind.ACTION, "Renewed the certificate and restarted the ingress controllers."),
    (TimelineKind.NOTE, "Watching metrics; no new alerts in the last 10 minutes."),
    (TimelineKind.ACTION, "Paused the nightly batch job to reduce load."),
    (TimelineKind.FINDING, "Queue depth peaked at 250k messages; consumers do 3k/s."),
    (TimelineKind.NOTE, "Following the [high error rate runbook]"
                        "(https://wiki.mindweave.io/runbooks/high-error-rate)."),
    (TimelineKind.ACTION, "Blocked the abusive client address range at the WAF."),
    (TimelineKind.FINDING, "The retry storm comes from mobile clients on 7.1 without backoff."),
    (TimelineKind.NOTE, "Customer Success contacted the three largest affected accounts."),
    (TimelineKind.ACTION, "Reverted this morning's feature flag change."),
    (TimelineKind.FINDING, "A 24 h DNS TTL keeps clients on the old load balancer."),
    (TimelineKind.NOTE, "| metric | now | baseline |\n| --- | --- | --- |\n"
                        "| error rate | 3.1% | 0.1% |\n| p99 | 1.8 s | 0.3 s |"),
    (TimelineKind.ACTION, "```\nkubectl -n mindweave-services rollout restart "
                          "deploy/api-gateway\n```"),
    (TimelineKind.NOTE, "QA confirmed the main user journeys work again."),
]
