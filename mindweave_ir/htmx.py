"""What every app's views ask of an HTMX request."""


def is_fragment(request):
    """An HTMX request that swaps one fragment (not a boosted full-page load)."""
    return bool(request.htmx) and not request.htmx.boosted
