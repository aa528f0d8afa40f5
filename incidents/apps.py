from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "incidents"

    def ready(self):
        from oncall import paging

        from . import freshness, services

        freshness.connect()

        # Pages raised for incidents report back onto the incident timeline.
        paging.subscribe(services.on_page_event)
