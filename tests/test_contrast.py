"""Badges carry white text on a coloured background: every one meets WCAG AA (4.5:1),
in the app and in the PDF (severity and status badges are read at 12-13 px)."""

import re
from pathlib import Path

import pytest
from django.conf import settings

CSS = Path(settings.BASE_DIR) / "static" / "css"
AA = 4.5


def luminance(hex_colour):
    red, green, blue = (int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5))

    def channel(c):
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(red) + 0.7152 * channel(green) + 0.0722 * channel(blue)


def contrast(foreground, background):
    high, low = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def badge_backgrounds(path):
    """`.sev-N` and `.status-*` rules' background colours, variables resolved."""
    css = path.read_text()
    variables = dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{6})", css))
    found = {}
    for selector, value in re.findall(
            r"\.((?:sev|status)-[\w-]+)\s*\{\s*background:\s*([^;]+);", css):
        value = value.strip()
        if value.startswith("var(--"):
            value = variables[value[6:-1]]
        found[selector] = value
    return found


@pytest.mark.parametrize("sheet", ["app.css", "print.css"])
def test_every_severity_and_status_badge_meets_aa_with_white_text(sheet):
    backgrounds = badge_backgrounds(CSS / sheet)

    assert {"sev-1", "sev-2", "sev-3", "sev-4"} <= set(backgrounds)
    weak = {name: round(contrast("#ffffff", colour), 2) for name, colour in backgrounds.items()
            if contrast("#ffffff", colour) < AA}
    assert weak == {}


def test_the_check_can_fail():
    assert contrast("#ffffff", "#b58a00") < AA  # the old SEV-3 amber, 3.18:1
    assert round(contrast("#ffffff", "#000000"), 1) == 21.0


def test_every_public_status_colour_meets_aa_as_a_banner_and_as_text():
    """status.css: white headline text on each `.overall-*` banner, and each
    `.state-* .state` colour as text on the white page."""
    css = (CSS / "status.css").read_text()
    colours = dict(re.findall(r"\.(overall(?:-\w+)?)\s*\{[^}]*background:\s*(#[0-9a-fA-F]{6})",
                              css))
    colours |= dict(re.findall(r"\.(state-\w+) \.state\s*\{\s*color:\s*(#[0-9a-fA-F]{6})", css))

    assert {"overall-major_outage", "state-partial_outage", "state-degraded_performance"} \
        <= set(colours)
    weak = {name: round(contrast("#ffffff", colour), 2) for name, colour in colours.items()
            if contrast("#ffffff", colour) < AA}
    assert weak == {}
