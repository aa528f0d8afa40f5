"""The incidents app's views, one module per feature (urls.py names each module's views).

This package re-exports only the hook the apps above use: `add_dashboard_panel`, through
which reports puts its panels on the IC dashboard without incidents importing it.
"""

from .incidents import add_dashboard_panel

__all__ = ["add_dashboard_panel"]
