from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "incidents"

    def ready(self):
        from mindweave_ir import metrics
        from oncall import paging

        from . import freshness, services
        from .metrics import IncidentsCollector

        freshness.connect()
        metrics.register(IncidentsCollector())

        # Pages raised for incidents report back onto the incident timeline.
        paging.subscribe(services.on_page_event)
