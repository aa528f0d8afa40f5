"""Table columns shared by every app's django-tables2 tables."""

import django_tables2 as tables

from mindweave_ir.templatetags.mw import when


class WhenColumn(tables.Column):
    """A date and time in the viewer's zone, as the `when` filter shows it everywhere.

    Used instead of DateTimeColumn, which compiles a template for every cell.
    """

    def render(self, value):
        return when(value)
