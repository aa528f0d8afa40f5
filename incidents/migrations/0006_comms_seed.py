"""Seed the handbook's communication templates (§5.1-5.3) and runbooks (§4).

The text is copied here, not read from the handbook or from app code at migrate
time, so this migration means the same thing forever. Managers edit the rows in
the admin afterwards; unseeding removes only rows still named as seeded.
"""

from django.db import migrations

# (kind, name, state, position, subject, body); [Placeholders] became {placeholders}.
TEMPLATES = [('status_page',
  'Investigating',
  'investigating',
  1,
  'Investigating issues with {service}',
  'We are currently investigating reports of {summary}.\n'
  'Our team is working to identify the cause and we will provide updates as we learn more.\n'),
 ('status_page',
  'Identified',
  'identified',
  2,
  'Issue identified with {service}',
  'We have identified the cause of the {issue_type} affecting {service}.\n'
  'Our team is implementing a fix. We expect to have this resolved within {timeframe}.\n'
  '\n'
  'Impact: {impact}\n'
  'Workaround: {workaround}\n'),
 ('status_page',
  'Monitoring',
  'monitoring',
  3,
  'Fix implemented, monitoring {service}',
  'We have implemented a fix for the {issue_type} affecting {service}.\n'
  'We are currently monitoring the service to ensure stability.\n'),
 ('status_page',
  'Resolved',
  'resolved',
  4,
  'Resolved - {service} issue',
  'The issue affecting {service} has been resolved.\n'
  'All systems are operating normally.\n'
  '\n'
  'Duration: {start_time} - {end_time} ({duration})\n'
  'Impact: {impact}\n'
  'Root Cause: {root_cause}\n'
  '\n'
  'We apologize for any inconvenience this may have caused.\n'),
 ('customer_email',
  'Initial notification',
  '',
  1,
  "[MindWeave] Service Disruption - We're On It",
  'Dear Customer,\n'
  '\n'
  'We are currently experiencing an issue with {service} that may be impacting your experience '
  'with MindWeave.\n'
  '\n'
  "What's happening:\n"
  '{summary}\n'
  '\n'
  "What we're doing:\n"
  'Our engineering team has been alerted and is actively investigating this issue.\n'
  '\n'
  'What you can do:\n'
  '{workaround}\n'
  '\n'
  'We will provide updates every {update_interval} until this issue is resolved.\n'
  '\n'
  'Thank you for your patience.\n'
  '\n'
  'The MindWeave Team\n'),
 ('customer_email',
  'Resolution',
  '',
  2,
  '[MindWeave] Service Restored - Issue Resolved',
  'Dear Customer,\n'
  '\n'
  'We are pleased to inform you that the issue affecting {service} has been resolved.\n'
  '\n'
  'What happened:\n'
  '{root_cause}\n'
  '\n'
  'Impact duration:\n'
  '{start_time} to {end_time} ({duration})\n'
  '\n'
  "What we're doing to prevent this:\n"
  '{prevention}\n'
  '\n'
  'We apologize for any inconvenience this may have caused. If you continue to experience any '
  'issues, please contact our support team at support@mindweave.io.\n'
  '\n'
  'Thank you for your patience and understanding.\n'
  '\n'
  'The MindWeave Team\n'),
 ('slack',
  'Incident declared',
  '',
  1,
  '🚨 INCIDENT DECLARED',
  '**Severity**: {severity}\n'
  '**Service**: {service}\n'
  '**Impact**: {impact}\n'
  '**IC**: @{commander}\n'
  '**Channel**: {channel}\n'
  '\n'
  'Please join the incident channel if you can assist.\n'),
 ('slack',
  'Status update',
  '',
  2,
  '📊 STATUS UPDATE - {time}',
  '**Current Status**: {status}\n'
  '**Progress**: {progress}\n'
  '**Next Steps**: {next_steps}\n'
  '**ETA**: {eta}\n'),
 ('slack',
  'Incident resolved',
  '',
  3,
  '✅ INCIDENT RESOLVED',
  '**Duration**: {duration}\n'
  '**Root Cause**: {root_cause}\n'
  '**Fix Applied**: {fix_applied}\n'
  '**Post-Mortem**: Scheduled for {post_mortem}\n'
  '\n'
  'Thank you to everyone who helped!\n')]

# (title, Markdown body, alert names)
RUNBOOKS = [('Service Down',
  '# Runbook: Service Unavailable\n'
  '\n'
  '## Symptoms\n'
  '- Health check failures\n'
  '- 5xx errors from API\n'
  '- Alerts: "ServiceDown", "HealthCheckFailed"\n'
  '\n'
  '## Quick Diagnosis\n'
  '\n'
  '### Step 1: Check Pod Status\n'
  '```bash\n'
  'kubectl get pods -n mindweave-services -l app=api-gateway\n'
  'kubectl describe pod <pod-name> -n mindweave-services\n'
  '```\n'
  '\n'
  '### Step 2: Check Recent Events\n'
  '```bash\n'
  "kubectl get events -n mindweave-services --sort-by='.lastTimestamp' | head -20\n"
  '```\n'
  '\n'
  '### Step 3: Check Logs\n'
  '```bash\n'
  'kubectl logs -n mindweave-services -l app=api-gateway --tail=100 --since=5m\n'
  '```\n'
  '\n'
  '### Step 4: Check Dependencies\n'
  '- [ ] Database connectivity\n'
  '- [ ] Redis connectivity\n'
  '- [ ] Kafka connectivity\n'
  '\n'
  '## Common Causes & Resolutions\n'
  '\n'
  '### 1. Pod OOMKilled\n'
  '**Symptoms**: Pod status shows OOMKilled\n'
  '**Resolution**:\n'
  '```bash\n'
  '# Increase memory limits\n'
  'kubectl patch deployment api-gateway -n mindweave-services \\\n'
  '  -p '
  '\'{"spec":{"template":{"spec":{"containers":[{"name":"api-gateway","resources":{"limits":{"memory":"2Gi"}}}]}}}}\'\n'
  '```\n'
  '\n'
  '### 2. Failed Deployment\n'
  '**Symptoms**: New pods not starting, old pods terminated\n'
  '**Resolution**:\n'
  '```bash\n'
  '# Rollback to previous version\n'
  'kubectl rollout undo deployment/api-gateway -n mindweave-services\n'
  'kubectl rollout status deployment/api-gateway -n mindweave-services\n'
  '```\n'
  '\n'
  '### 3. Database Connection Issues\n'
  '**Symptoms**: Connection refused/timeout errors in logs\n'
  '**Resolution**:\n'
  '```bash\n'
  '# Check database status\n'
  'aws rds describe-db-instances --db-instance-identifier mindweave-production\n'
  '\n'
  '# Check security groups\n'
  'aws ec2 describe-security-groups --group-ids <sg-id>\n'
  '```\n'
  '\n'
  '### 4. Certificate Expiry\n'
  '**Symptoms**: TLS handshake errors\n'
  '**Resolution**:\n'
  '```bash\n'
  '# Check certificate expiry\n'
  'kubectl get certificate -n mindweave-services\n'
  'kubectl describe certificate mindweave-tls -n mindweave-services\n'
  '\n'
  '# Force certificate renewal\n'
  'kubectl delete certificate mindweave-tls -n mindweave-services\n'
  '```\n'
  '\n'
  '## Escalation\n'
  'If issue persists after 15 minutes:\n'
  '- Escalate to Secondary On-Call\n'
  '- Page Database team if DB-related\n'
  '- Page Infrastructure team if cloud-related\n',
  ['ServiceDown', 'HealthCheckFailed']),
 ('High Error Rate',
  '# Runbook: High Error Rate\n'
  '\n'
  '## Symptoms\n'
  '- Error rate > 5%\n'
  '- Alerts: "HighErrorRate", "HTTP5xxSpike"\n'
  '\n'
  '## Quick Diagnosis\n'
  '\n'
  '### Step 1: Identify Error Types\n'
  '```bash\n'
  '# Query error breakdown\n'
  'kubectl exec -n mindweave-monitoring prometheus-0 -- \\\n'
  '  promtool query instant \\\n'
  '  \'sum(rate(http_requests_total{status_code=~"5.."}[5m])) by (status_code, path)\'\n'
  '```\n'
  '\n'
  '### Step 2: Check Application Logs\n'
  '```bash\n'
  '# Get error logs\n'
  'kubectl logs -n mindweave-services -l app=api-gateway --since=10m | grep -i error | head '
  '-50\n'
  '```\n'
  '\n'
  '### Step 3: Check Recent Deployments\n'
  '```bash\n'
  'kubectl rollout history deployment/api-gateway -n mindweave-services\n'
  '```\n'
  '\n'
  '### Step 4: Check External Dependencies\n'
  '```bash\n'
  '# Test database\n'
  'kubectl exec -n mindweave-services deployment/api-gateway -- \\\n'
  '  pg_isready -h $DATABASE_HOST -p 5432\n'
  '\n'
  '# Test Redis\n'
  'kubectl exec -n mindweave-services deployment/api-gateway -- \\\n'
  '  redis-cli -h $REDIS_HOST ping\n'
  '\n'
  '# Test external APIs\n'
  'curl -s https://api.anthropic.com/health\n'
  '```\n'
  '\n'
  '## Common Causes & Resolutions\n'
  '\n'
  '### 1. Bad Deployment\n'
  '**Indicators**: Errors started after deployment\n'
  '**Resolution**:\n'
  '```bash\n'
  '# Check deployment time vs error spike\n'
  'kubectl rollout history deployment/api-gateway -n mindweave-services\n'
  '\n'
  '# Rollback\n'
  'kubectl rollout undo deployment/api-gateway -n mindweave-services\n'
  '```\n'
  '\n'
  '### 2. Database Connection Pool Exhaustion\n'
  '**Indicators**: "connection pool exhausted" in logs\n'
  '**Resolution**:\n'
  '```bash\n'
  '# Scale down to reduce connections\n'
  'kubectl scale deployment/api-gateway -n mindweave-services --replicas=2\n'
  '\n'
  '# Check and terminate idle connections\n'
  'psql -h $DATABASE_HOST -U $DATABASE_USER -c "SELECT pg_terminate_backend(pid) FROM '
  "pg_stat_activity WHERE state = 'idle' AND query_start < NOW() - INTERVAL '10 "
  'minutes\';"\n'
  '```\n'
  '\n'
  '### 3. Rate Limiting by External API\n'
  '**Indicators**: 429 errors from external services\n'
  '**Resolution**:\n'
  '- Check rate limit headers in responses\n'
  '- Implement backoff in calling code\n'
  '- Contact API provider if limits too low\n'
  '\n'
  '### 4. Memory Pressure\n'
  '**Indicators**: Node memory high, pods evicted\n'
  '**Resolution**:\n'
  '```bash\n'
  '# Check node resources\n'
  'kubectl top nodes\n'
  '\n'
  '# Cordon affected node\n'
  'kubectl cordon <node-name>\n'
  '\n'
  '# Scale horizontally\n'
  'kubectl scale deployment/api-gateway -n mindweave-services --replicas=5\n'
  '```\n'
  '\n'
  '## Escalation\n'
  '- If error rate > 50%: Escalate to SEV-1\n'
  '- If caused by external service: Contact vendor support\n'
  '- If database-related: Page DBA on-call\n',
  ['HighErrorRate', 'HTTP5xxSpike']),
 ('Database Issues',
  '# Runbook: Database Issues\n'
  '\n'
  '## Symptoms\n'
  '- Connection timeouts\n'
  '- Slow queries\n'
  '- Replication lag\n'
  '- Alerts: "DatabaseConnectionFailed", "HighReplicationLag", "SlowQueries"\n'
  '\n'
  '## Quick Diagnosis\n'
  '\n'
  '### Step 1: Check RDS Status\n'
  '```bash\n'
  'aws rds describe-db-instances \\\n'
  '  --db-instance-identifier mindweave-production \\\n'
  "  --query 'DBInstances[0].{Status:DBInstanceStatus,CPU:PerformanceInsightsEnabled}'\n"
  '```\n'
  '\n'
  '### Step 2: Check Active Connections\n'
  '```sql\n'
  'SELECT\n'
  '  count(*) as total,\n'
  '  state,\n'
  '  usename\n'
  'FROM pg_stat_activity\n'
  'GROUP BY state, usename\n'
  'ORDER BY total DESC;\n'
  '```\n'
  '\n'
  '### Step 3: Check Long-Running Queries\n'
  '```sql\n'
  'SELECT\n'
  '  pid,\n'
  '  now() - pg_stat_activity.query_start AS duration,\n'
  '  query,\n'
  '  state\n'
  'FROM pg_stat_activity\n'
  "WHERE (now() - pg_stat_activity.query_start) > interval '5 minutes'\n"
  'ORDER BY duration DESC;\n'
  '```\n'
  '\n'
  '### Step 4: Check Replication Status\n'
  '```sql\n'
  'SELECT\n'
  '  client_addr,\n'
  '  state,\n'
  '  sent_lsn,\n'
  '  replay_lsn,\n'
  '  pg_wal_lsn_diff(sent_lsn, replay_lsn) as replication_lag\n'
  'FROM pg_stat_replication;\n'
  '```\n'
  '\n'
  '## Common Causes & Resolutions\n'
  '\n'
  '### 1. Connection Pool Exhaustion\n'
  '**Resolution**:\n'
  '```sql\n'
  '-- Kill idle connections\n'
  'SELECT pg_terminate_backend(pid)\n'
  'FROM pg_stat_activity\n'
  "WHERE state = 'idle'\n"
  "  AND query_start < NOW() - INTERVAL '5 minutes'\n"
  "  AND usename != 'rdsadmin';\n"
  '```\n'
  '\n'
  '### 2. Long-Running Queries\n'
  '**Resolution**:\n'
  '```sql\n'
  '-- Kill specific query\n'
  'SELECT pg_terminate_backend(<pid>);\n'
  '\n'
  '-- Kill all queries longer than 10 minutes\n'
  'SELECT pg_terminate_backend(pid)\n'
  'FROM pg_stat_activity\n'
  "WHERE duration > interval '10 minutes'\n"
  "  AND state != 'idle';\n"
  '```\n'
  '\n'
  '### 3. Table Lock Contention\n'
  '**Resolution**:\n'
  '```sql\n'
  '-- Identify blocking queries\n'
  'SELECT\n'
  '  blocked_locks.pid AS blocked_pid,\n'
  '  blocked_activity.usename AS blocked_user,\n'
  '  blocking_locks.pid AS blocking_pid,\n'
  '  blocking_activity.usename AS blocking_user,\n'
  '  blocked_activity.query AS blocked_statement\n'
  'FROM pg_catalog.pg_locks blocked_locks\n'
  'JOIN pg_catalog.pg_stat_activity blocked_activity\n'
  '  ON blocked_activity.pid = blocked_locks.pid\n'
  'JOIN pg_catalog.pg_locks blocking_locks\n'
  '  ON blocking_locks.locktype = blocked_locks.locktype\n'
  '  AND blocking_locks.database IS NOT DISTINCT FROM blocked_locks.database\n'
  '  AND blocking_locks.relation IS NOT DISTINCT FROM blocked_locks.relation\n'
  '  AND blocking_locks.page IS NOT DISTINCT FROM blocked_locks.page\n'
  '  AND blocking_locks.tuple IS NOT DISTINCT FROM blocked_locks.tuple\n'
  '  AND blocking_locks.virtualxid IS NOT DISTINCT FROM blocked_locks.virtualxid\n'
  '  AND blocking_locks.transactionid IS NOT DISTINCT FROM blocked_locks.transactionid\n'
  '  AND blocking_locks.classid IS NOT DISTINCT FROM blocked_locks.classid\n'
  '  AND blocking_locks.objid IS NOT DISTINCT FROM blocked_locks.objid\n'
  '  AND blocking_locks.objsubid IS NOT DISTINCT FROM blocked_locks.objsubid\n'
  '  AND blocking_locks.pid != blocked_locks.pid\n'
  'JOIN pg_catalog.pg_stat_activity blocking_activity\n'
  '  ON blocking_activity.pid = blocking_locks.pid\n'
  'WHERE NOT blocked_locks.granted;\n'
  '```\n'
  '\n'
  '### 4. Disk Space Low\n'
  '**Resolution**:\n'
  '```bash\n'
  '# Check disk usage\n'
  'aws cloudwatch get-metric-statistics \\\n'
  '  --namespace AWS/RDS \\\n'
  '  --metric-name FreeStorageSpace \\\n'
  '  --dimensions Name=DBInstanceIdentifier,Value=mindweave-production \\\n'
  "  --start-time $(date -u -d '1 hour ago' +%Y-%m-%dT%H:%M:%SZ) \\\n"
  '  --end-time $(date -u +%Y-%m-%dT%H:%M:%SZ) \\\n'
  '  --period 300 \\\n'
  '  --statistics Average\n'
  '\n'
  '# Increase storage (if auto-scaling not enabled)\n'
  'aws rds modify-db-instance \\\n'
  '  --db-instance-identifier mindweave-production \\\n'
  '  --allocated-storage 1000 \\\n'
  '  --apply-immediately\n'
  '```\n'
  '\n'
  '## Escalation\n'
  '- If database unresponsive: Page DBA on-call immediately\n'
  '- If data corruption suspected: Escalate to SEV-1, engage AWS support\n'
  '- If replica lag > 5 minutes: Consider promoting replica\n',
  ['DatabaseConnectionFailed', 'HighReplicationLag', 'SlowQueries'])]


def seed(apps, schema_editor):
    CommsTemplate = apps.get_model("incidents", "CommsTemplate")
    Runbook = apps.get_model("incidents", "Runbook")
    for kind, name, state, position, subject, body in TEMPLATES:
        CommsTemplate.objects.get_or_create(kind=kind, name=name, defaults={
            "state": state, "position": position, "subject": subject, "body": body})
    for title, body, alert_names in RUNBOOKS:
        Runbook.objects.get_or_create(title=title, defaults={
            "body": body, "alert_names": "\n".join(alert_names)})


def unseed(apps, schema_editor):
    CommsTemplate = apps.get_model("incidents", "CommsTemplate")
    Runbook = apps.get_model("incidents", "Runbook")
    for kind, name, *_ in TEMPLATES:
        CommsTemplate.objects.filter(kind=kind, name=name).delete()
    Runbook.objects.filter(title__in=[title for title, *_ in RUNBOOKS]).delete()


class Migration(migrations.Migration):
    dependencies = [("incidents", "0005_comms")]

    operations = [migrations.RunPython(seed, unseed)]
