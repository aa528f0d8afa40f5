"""The Celery app. Broker and schedule come from settings (CELERY_* names)."""

import os
from pathlib import Path

from celery import Celery
from celery.signals import after_setup_logger, after_setup_task_logger

from .redaction import MaskTokensFilter

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mindweave_ir.settings")

app = Celery("mindweave_ir")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def _make_filesystem_broker_folders(sender, **kwargs):
    """The embedded filesystem transport expects its folders to exist."""
    options = sender.conf.broker_transport_options or {}
    if str(sender.conf.broker_url).startswith("filesystem://"):
        for key in ("data_folder_in", "data_folder_out", "control_folder"):
            if options.get(key):
                Path(options[key]).mkdir(parents=True, exist_ok=True)


@after_setup_logger.connect
@after_setup_task_logger.connect
def _mask_tokens_in_worker_logs(logger=None, **kwargs):
    """A worker or beat replaces the root logger's handlers with its own (so settings'
    LOGGING filters are gone there): mask tokens on the handlers Celery installed."""
    for handler in logger.handlers if logger else ():
        if not any(isinstance(f, MaskTokensFilter) for f in handler.filters):
            handler.addFilter(MaskTokensFilter())
