from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "reports"
    verbose_name = "Reports"

    def ready(self):
        from incidents import services as incident_services

        from . import services

        # Resolving an incident opens its post-incident review (§7.1).
        incident_services.subscribe_resolved(services.create_pir_for)
