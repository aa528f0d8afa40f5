"""Geometry for the small per-month bar charts, drawn as inline SVG by a template.

No JavaScript and no library: the template (reports/metrics/_chart.html) only
places the rectangles and labels computed here. No ORM here.
"""

from dataclasses import dataclass

WIDTH, HEIGHT = 300, 120  # the SVG's viewBox; CSS scales it
TOP, BOTTOM, LEFT = 10, 20, 4  # room for the top label and the month names
GAP = 4


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str  # the month, e.g. "Sep"
    title: str  # the tooltip: "Sep 2026: 4m 05s"
    state: str  # "met", "missed" or "none" (no value that month)


@dataclass(frozen=True)
class Chart:
    caption: str
    bars: list
    target_y: float | None
    target_text: str
    width: int = WIDTH
    height: int = HEIGHT

    @property
    def label_y(self):
        return self.height - 5


def bars(points, *, target=None, lower_is_better=True, caption="", maximum=None):
    """A bar per (month, value or None, text) point, scaled to the largest value or
    the target (whichever is higher), with a line at the target.

    A bar is "met" when its value beats the target (strictly below it when lower is
    better, at or above it otherwise), "missed" when not, "none" without a value.
    """
    values = [v for _, v, _ in points if v is not None]
    top = max([*values, target or 0, maximum or 0]) or 1
    plot = HEIGHT - TOP - BOTTOM
    slot = (WIDTH - LEFT) / max(len(points), 1)
    out = []
    for i, (month, value, text) in enumerate(points):
        height = 0 if value is None else plot * value / top
        if value is None:
            state = "none"
        elif target is None:
            state = "met"
        elif lower_is_better:
            state = "met" if value < target else "missed"
        else:
            state = "met" if value >= target else "missed"
        out.append(Bar(
            x=round(LEFT + i * slot + GAP / 2, 2), y=round(TOP + plot - height, 2),
            width=round(max(slot - GAP, 1), 2), height=round(height, 2),
            label=f"{month:%b}", title=f"{month:%b %Y}: {text}", state=state,
        ))
    target_y = None if target is None else round(TOP + plot - plot * target / top, 2)
    return Chart(caption=caption, bars=out, target_y=target_y,
                 target_text="" if target is None else "target")
