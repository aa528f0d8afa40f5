from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "reports"
    verbose_name = "Reports"

    def ready(self):
        from incidents import services as incident_services
        from incidents import views as incident_views

        from .services import pir
        from .views import dashboard

        # Resolving an incident opens its post-incident review (§7.1).
        incident_services.subscribe_resolved(pir.create_pir_for)
        # Handoffs waiting on someone show on the IC dashboard (§2.3 "Ensure next on-call
        # has acknowledged handoff").
        incident_views.add_dashboard_panel(dashboard.TEMPLATE, dashboard.panel)
