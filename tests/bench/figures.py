"""What each `make bench` part hands to the combined report (tests/bench/report.py).

A part measures in its own process (each sets Django up against its own database),
writes its detailed Markdown report, and saves its headline figures here as JSON:
`var/bench/<part>.json`, a list of figures, each with

- `what`: the measure, e.g. "dashboard p95 at 8 clients";
- `figure`: the measured value as shown, e.g. "212.0 ms";
- `bar`: DESIGN.md's bar for it as shown, e.g. "≤ 5x /healthz", or "" (context only);
- `met`: True / False against the bar, None when there is no bar;
- `ratio`: the page's p95 over /healthz's p95 in the same run (page latencies only);
- `note`: why a bar is not met or what the figure means, "" if nothing to add.
"""

import json
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parents[2] / "var" / "bench"


def figure(what, value, bar="", met=None, *, ratio=None, note=""):
    return {"what": what, "figure": value, "bar": bar, "met": met, "ratio": ratio,
            "note": note}


def save(part, figures):
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    (BENCH_DIR / f"{part}.json").write_text(json.dumps(figures, indent=2) + "\n")


def load(part):
    """The figures a part saved, or None if it saved none (it failed or never ran)."""
    try:
        return json.loads((BENCH_DIR / f"{part}.json").read_text())
    except (OSError, ValueError):
        return None
