"""System checks for settings that must agree with each other or parse."""

from django.conf import settings
from django.core.checks import Error, register

from . import outbound


@register()
def check_outbound_allowed_networks(app_configs, **kwargs):
    """OUTBOUND_ALLOWED_NETWORKS must be CIDRs: an entry that is not would allow nothing,
    silently, and an on-premise receiver would be refused without a clue why."""
    bad = outbound.network_errors(getattr(settings, outbound.ALLOW_SETTING, []) or [])
    return [Error(f"OUTBOUND_ALLOWED_NETWORKS entry {entry!r} is not a network",
                  hint="Use comma-separated CIDRs, e.g. 10.20.0.0/16,fd00:1::/64.",
                  id="mindweave_ir.E001") for entry in bad]


@register()
def check_login_limits(app_configs, **kwargs):
    """The per-address limit (password spraying) must be above the per-username one, or
    one person mistyping their own password would lock out everyone behind their NAT."""
    per_user = getattr(settings, "LOGIN_FAILURE_LIMIT", 5)
    per_address = getattr(settings, "LOGIN_ADDRESS_FAILURE_LIMIT", 20)
    if per_address <= per_user:
        return [Error(f"LOGIN_ADDRESS_FAILURE_LIMIT ({per_address}) must be above "
                      f"LOGIN_FAILURE_LIMIT ({per_user})",
                      hint="The default is 20 per address and 5 per username.",
                      id="mindweave_ir.E002")]
    return []


@register()
def check_paging_engine(app_configs, **kwargs):
    """The paging engine's loop and send threads need sane numbers (oncall/engine.py)."""
    errors = []
    if not 50 <= getattr(settings, "PAGING_ENGINE_INTERVAL_MS", 500) <= 10_000:
        errors.append(Error("PAGING_ENGINE_INTERVAL_MS must be between 50 and 10000",
                            hint="Escalation is due within this; 500 is the default.",
                            id="mindweave_ir.E003"))
    if not 1 <= getattr(settings, "PAGING_SEND_THREADS", 16) <= 256:
        errors.append(Error("PAGING_SEND_THREADS must be between 1 and 256",
                            hint="16 is the default.", id="mindweave_ir.E004"))
    return errors


@register()
def check_pager_monitoring(app_configs, **kwargs):
    """/metrics' allowed networks must parse (an entry that does not would allow nothing,
    silently), and DEADMAN_URL must be an http(s) URL (README "Monitoring the pager")."""
    errors = [Error(f"METRICS_ALLOWED_NETWORKS entry {entry!r} is not a network",
                    hint="Use comma-separated CIDRs, e.g. 10.0.5.0/24.",
                    id="mindweave_ir.E030")
              for entry in outbound.network_errors(getattr(settings, "METRICS_ALLOWED_NETWORKS",
                                                           []) or [])]
    url = getattr(settings, "DEADMAN_URL", "")
    if url and not url.startswith(("http://", "https://")):
        errors.append(Error("DEADMAN_URL must start with http:// or https://",
                            hint="e.g. https://hc-ping.com/<uuid>", id="mindweave_ir.E031"))
    if not 1 <= getattr(settings, "DEADMAN_INTERVAL", 60) <= 3600:
        errors.append(Error("DEADMAN_INTERVAL must be between 1 and 3600 seconds",
                            hint="60 is the default.", id="mindweave_ir.E032"))
    return errors
