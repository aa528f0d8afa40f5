"""`/metrics`: the pager's own health in Prometheus' text format (README "Monitoring the
pager").

Web, paging engine, Celery workers and beat are separate processes, on several hosts,
so nothing here counts in process memory: every figure is read from the database (and
the shared cache) at scrape time, by collectors the apps register from their
`AppConfig.ready()` (this package imports no app; DESIGN.md "Layers"). Each collector
runs a fixed number of aggregate queries, so a scrape costs the same however much
history there is.

Who may scrape: a request carrying `Authorization: Bearer <METRICS_TOKEN>`, or one whose
peer address (REMOTE_ADDR) is inside METRICS_ALLOWED_NETWORKS. With neither setting,
nobody: the page answers 404, as if it were not there.
"""

import hmac
import ipaddress

from django.conf import settings
from prometheus_client import CollectorRegistry, generate_latest

from . import outbound

_collectors = {}  # "module.Class" -> the collector


def register(collector):
    """Add a collector (an object with `collect()` yielding metric families); one per
    class, so a second `ready()` replaces rather than doubles it."""
    cls = type(collector)
    _collectors[f"{cls.__module__}.{cls.__qualname__}"] = collector


class _Registered:
    """The registered collectors as one, read at each scrape (the order they came in).
    Families of the same name from several collectors become one (e.g. deliveries
    failing: page notifications from oncall, communications from incidents)."""

    def collect(self):
        families = {}
        for collector in list(_collectors.values()):
            for family in collector.collect():
                if family.name in families:
                    families[family.name].samples.extend(family.samples)
                else:
                    families[family.name] = family
        return list(families.values())


def render():
    """Every registered metric, in the Prometheus text format (version 0.0.4)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Registered())
    return generate_latest(registry)


def configured():
    return bool(settings.METRICS_TOKEN or settings.METRICS_ALLOWED_NETWORKS)


def allowed(request):
    """The bearer token matches METRICS_TOKEN, or the peer is in METRICS_ALLOWED_NETWORKS."""
    token = settings.METRICS_TOKEN
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if token and scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), token.encode()):
        return True
    try:
        peer = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    if isinstance(peer, ipaddress.IPv6Address) and peer.ipv4_mapped:
        peer = peer.ipv4_mapped
    return any(peer.version == net.version and peer in net
               for net in outbound.parse_networks(tuple(settings.METRICS_ALLOWED_NETWORKS)))
