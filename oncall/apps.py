from django.apps import AppConfig


class OncallConfig(AppConfig):
    name = "oncall"
    verbose_name = "On-call"

    def ready(self):
        from mindweave_ir import metrics

        from . import freshness, sso  # noqa: F401 (sso: its system check)
        from .metrics import PagingCollector

        freshness.connect()
        metrics.register(PagingCollector())
