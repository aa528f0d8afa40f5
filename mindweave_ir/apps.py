from django.apps import AppConfig


class MindweaveConfig(AppConfig):
    name = "mindweave_ir"
    verbose_name = "MindWeave IR"

    def ready(self):
        # Registers the project-wide system checks (Django's documented place for it).
        from . import checks, usercache  # noqa: F401

        usercache.connect()
