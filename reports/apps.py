from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "reports"
    verbose_name = "Reports"

    def ready(self):
        from incidents import services as incident_services
        from incidents import views as incident_views

        from . import services
        from .handoffs import dashboard as handoff_dashboard

        # Resolving an incident opens its post-incident review (§7.1).
        incident_services.subscribe_resolved(services.create_pir_for)
        # Handoffs waiting on someone show on the IC dashboard (§2.3 "Ensure next on-call
        # has acknowledged handoff").
        incident_views.add_dashboard_panel(handoff_dashboard.TEMPLATE, handoff_dashboard.panel)
