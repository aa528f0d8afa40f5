"""Table columns shared by every app's django-tables2 tables."""

import django_tables2 as tables
from django.core.paginator import EmptyPage
from django_tables2 import RequestConfig

from mindweave_ir.inputs import parse_int
from mindweave_ir.templatetags.mw import when


def configure(request, table, *, per_page=None):
    """Sort `table` as the request asks and show the page it asks for, `per_page` rows a
    page (None: every row). RequestConfig would also take the page size from
    `?per_page=`: -1 or 0 is a 500 in the paginator and a huge one renders every row,
    so the size is the view's alone."""
    RequestConfig(request, paginate=False).configure(table)
    if per_page:
        page = parse_int(request.GET.get(table.prefixed_page_field), low=1, default=1)
        try:
            table.paginate(page=page, per_page=per_page)
        except EmptyPage:
            table.page = table.paginator.page(table.paginator.num_pages)
    return table


class WhenColumn(tables.Column):
    """A date and time in the viewer's zone, as the `when` filter shows it everywhere.

    Used instead of DateTimeColumn, which compiles a template for every cell.
    """

    def render(self, value):
        return when(value)
