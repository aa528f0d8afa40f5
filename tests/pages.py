"""Helpers for reading rendered pages in view tests."""


def html(response):
    return response.content.decode()


def assert_fragment(response, dom_id):
    """The response is exactly the HTMX fragment with this id, not a whole page."""
    text = html(response)
    assert f'id="{dom_id}"' in text
    assert "<html" not in text
    assert "<!doctype" not in text.lower()
    assert 'class="topbar"' not in text
