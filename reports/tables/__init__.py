"""django-tables2 tables of reports, one module per feature."""

from .handoffs import HandoffTable
from .metrics import FigureTable, MetricsIncidentTable

__all__ = ["FigureTable", "HandoffTable", "MetricsIncidentTable"]
