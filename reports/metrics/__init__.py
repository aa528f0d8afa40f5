"""Metrics and KPIs of handbook §7: definitions, computation, the report they make.

- definitions.py: what each KPI means (the page's help text), targets, formatting.
- queries.py: the computation, in the database (a fixed number of queries).
- report.py: the computed numbers as figures (page and CSV) and KPI cards.
- chart.py: geometry of the per-month SVG bar charts.
"""

from .definitions import EXCLUSIONS, KPIS, Period, last_days
from .queries import BEHIND, annotate_verdicts, behind, compute, in_period, real_incidents

__all__ = ["BEHIND", "EXCLUSIONS", "KPIS", "Period", "annotate_verdicts", "behind", "compute",
           "in_period", "last_days", "real_incidents"]
