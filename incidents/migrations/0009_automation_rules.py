"""The handbook's four automation rules (§6.2), as disabled examples: each calls a
webhook that would do the action (scale, restart, fail over, block) once a Manager
gives it a URL and enables it."""

from django.db import migrations

RULES = [
    ("auto-scale-on-high-load", "HighCPUUsage", 5,
     "Scale deployment api-gateway in mindweave-services up by 2 (max 20 replicas) when CPU "
     "stays over 85% for 5 minutes. Notify #platform-alerts.",
     "Auto-scaled api-gateway due to high CPU"),
    ("auto-restart-failed-pod", "PodCrashLoopBackOff", 0,
     "Delete the crash-looping pod (selector app={{ .Labels.app }}, namespace "
     "{{ .Labels.namespace }}) after 3 restarts. Notify #platform-alerts.",
     "Deleted crash-looping pod: {{ .Labels.pod }}"),
    ("auto-failover-database", "DatabasePrimaryUnreachable", 2,
     "Promote mindweave-replica when the primary is unreachable for 2 minutes. Notify "
     "#incidents (critical).",
     "Initiated database failover to replica"),
    ("auto-block-suspicious-ip", "SuspiciousTrafficPattern", 0,
     "Block the source IP in the WAF for 1 hour on rate_limit_exceeded traffic. Notify "
     "#security-alerts.",
     "Blocked suspicious IP: {{ .Labels.source_ip }}"),
]


def add_rules(apps, schema_editor):
    Rule = apps.get_model("incidents", "AutomationRule")
    for name, alert, minutes, description, message in RULES:
        Rule.objects.get_or_create(name=name, defaults={
            "alert_name": alert, "duration_minutes": minutes, "description": description,
            "message": message, "enabled": False, "action": "webhook"})


class Migration(migrations.Migration):
    dependencies = [("incidents", "0008_automation")]
    operations = [migrations.RunPython(add_rules, migrations.RunPython.noop)]
