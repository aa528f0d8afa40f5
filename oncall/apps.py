from django.apps import AppConfig


class OncallConfig(AppConfig):
    name = "oncall"
    verbose_name = "On-call"

    def ready(self):
        from . import freshness, sso  # noqa: F401 (sso: its system check)

        freshness.connect()
