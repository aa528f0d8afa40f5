"""Liveness and readiness probes; both open without login (DESIGN.md)."""

from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from . import metrics as pager_metrics
from .celery import app as celery_app
from .syslibs import pdf_problem


@login_not_required
@require_safe
@never_cache
def healthz(request):
    """The process is up. Touches nothing else."""
    return HttpResponse("ok\n", content_type="text/plain")


def _check_database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _check_broker():
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)


CHECKS = {"database": _check_database, "broker": _check_broker}


@login_not_required
@require_safe
@never_cache
def readyz(request):
    """Database and broker reachable: 200; otherwise 503 naming what failed.

    PDF export is reported beside them but does not make the site unready: without
    Pango every page but the PDFs works, and the entry says what to install.
    """
    results = {}
    for name, check in CHECKS.items():
        try:
            check()
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
            results[name] = f"error: {type(exc).__name__}: {exc}"
        else:
            results[name] = "ok"
    ready = all(value == "ok" for value in results.values())
    problem = pdf_problem()
    pdf = f"unavailable: {problem}" if problem else "ok"
    return JsonResponse({"ready": ready, **results, "pdf": pdf}, status=200 if ready else 503)


@login_not_required
@require_safe
@never_cache
def metrics(request):
    """The pager's own metrics for Prometheus: bearer token or allowed network, no
    session (mindweave_ir/metrics.py). Not configured: 404, as if absent; refused: 403."""
    if not pager_metrics.configured():
        raise Http404("/metrics is off: set METRICS_TOKEN or METRICS_ALLOWED_NETWORKS.")
    if not pager_metrics.allowed(request):
        return HttpResponse("Forbidden: a bearer token or an allowed network is required.\n",
                            status=403, content_type="text/plain")
    return HttpResponse(pager_metrics.render(), content_type=CONTENT_TYPE_PLAIN_0_0_4)


@login_not_required
@require_safe
def favicon(request):
    """Browsers ask for /favicon.ico whatever the page links; send them to ours."""
    return redirect(static("favicon.svg"), permanent=True)


def _error_page(request, status, title, message):
    """Full page for a normal request; a small swappable notice for an HTMX one."""
    htmx = getattr(request, "htmx", None)
    template = "errors/notice.html" if htmx and not htmx.boosted else "errors/page.html"
    return render(request, template, {"title": title, "message": message}, status=status)


def permission_denied(request, exception):
    message = str(exception) or "Your role does not allow this."
    return _error_page(request, 403, "Not allowed", message)


def page_not_found(request, exception):
    return _error_page(request, 404, "Not found",
                       "This page or item does not exist, or was deleted. Reload to see "
                       "the current state.")
