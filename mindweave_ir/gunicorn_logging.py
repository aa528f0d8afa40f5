"""Gunicorn's own log lines with tokens masked, like Django's (mindweave_ir/redaction.py).

Gunicorn logs outside Django's LOGGING: its access lines carry the request line and
query, and its error log names the URI of a request that failed ("Error handling
request /api/v1/integrations/<token>/alertmanager"). `gunicorn.conf.py` in the project
root names this class, so `gunicorn mindweave_ir.wsgi` run from the checkout uses it.
"""

from gunicorn import glogging

from .redaction import MaskTokensFilter


class MaskingLogger(glogging.Logger):
    def setup(self, cfg):
        super().setup(cfg)  # also run on a configuration reload
        for log in (self.error_log, self.access_log):
            if not any(isinstance(f, MaskTokensFilter) for f in log.filters):
                log.addFilter(MaskTokensFilter())
