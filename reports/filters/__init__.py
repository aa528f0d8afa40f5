"""django-filter filter sets of reports, one module per feature."""

from .handoffs import HandoffFilter
from .metrics import BEHIND_CHOICES, MetricsFilter, with_defaults

__all__ = ["BEHIND_CHOICES", "HandoffFilter", "MetricsFilter", "with_defaults"]
