"""`make bench`: every performance figure beside its DESIGN.md bar, in one report.

    python -m tests.bench.report                 (all parts)
    BENCH_PARTS=pages,pdf python -m tests.bench.report

Runs each part in its own process, in turn (each sets Django up against its own
database and they must not compete for this machine's cores), then writes
var/bench/report.md from the figures each part saved (tests/bench/figures.py), with
the machine they were measured on. Each part's detailed report stays beside it
(var/bench/paging.md, pdf.md, ingest.md, pages.md, live.md).

A report, not a test: exit 0 when every part measured, whether or not the bars are
met; 2 when a part could not measure (its row says so; the others still ran).
"""

import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from tests.bench.figures import BENCH_DIR, load

ROOT = Path(__file__).resolve().parents[2]
REPORT = BENCH_DIR / "report.md"

# (part, module, what it measures), in the order they run.
PARTS = [
    ("paging", "tests.bench.paging_latency",
     "Paging latency: the paging engine, real Celery worker and beat, PostgreSQL, the "
     "benchmark's own Redis (stopped for 60 s in the outage phase), webhooks to local "
     "receivers, one of them 2 s slow (detail: paging.md)"),
    ("pdf", "tests.bench.pdf_render",
     "PIR PDF: 200 timeline entries and 30 action items, rendered, then downloaded and "
     "changed with gunicorn and a Celery worker on throwaway SQLite (detail: pdf.md)"),
    ("ingest", "tests.bench.ingest_rate",
     "Alert ingestion on one integration: gunicorn, a real Celery worker, PostgreSQL, Redis "
     "(detail: ingest.md)"),
    ("pages", "tests.bench.pages",
     "Page latency: 10,000 seeded incidents (50 timeline entries each) at 8 and 32 "
     "concurrent clients against the logged-in and anonymous /healthz, then 100,000 (10 "
     "each) at 8, gunicorn, PostgreSQL; a profile of each page (detail: pages.md)"),
    ("live", "tests.bench.live_poll",
     "Live updates: 50 watchers, each its own session, polling one incident back to back "
     "through gunicorn, PostgreSQL (detail: live.md)"),
]


def log(text):
    print(f"[bench] {text}", flush=True)


def run_part(part, module):
    """Run one part in its own process; (seconds taken, exit code)."""
    (BENCH_DIR / f"{part}.json").unlink(missing_ok=True)  # no stale figures
    log(f"--- {part}: python -m {module}")
    started = time.monotonic()
    code = subprocess.run([sys.executable, "-m", module], cwd=ROOT, check=False).returncode
    return time.monotonic() - started, code


def _first_line(path, prefix):
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(prefix):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def _server_version(query_cmd):
    try:
        done = subprocess.run(query_cmd, capture_output=True, text=True, timeout=10,
                              check=True)
        return done.stdout.strip().splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        return "unknown"


def machine_facts():
    memory = _first_line("/proc/meminfo", "MemTotal")
    if memory != "unknown":
        memory = f"{int(memory.split()[0]) / 1024 ** 2:.1f} GiB"
    return [
        ("Date", datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")),
        ("CPU", f"{os.cpu_count()} × {_first_line('/proc/cpuinfo', 'model name')}"),
        ("Memory", memory),
        ("Kernel", platform.release()),
        ("Python", platform.python_version()),
        ("PostgreSQL", _server_version(["psql", "-h", "127.0.0.1", "-U", "postgres", "-Atc",
                                        "SHOW server_version", "postgres"])),
        ("Redis", _server_version(["redis-server", "--version"])),
    ]


def _result(row):
    if row["met"] is None:
        return "—"
    return "met" if row["met"] else "**not met**"


def render(facts, outcomes):
    lines = ["# MindWeave IR benchmark report (`make bench`)", "",
             "Every figure measured by this run on this machine, beside its bar from "
             "DESIGN.md (\"Performance bars\"). Page latencies are also given as a ratio "
             "to `/healthz`'s p95 measured in the same run.", "",
             "| | |", "| --- | --- |", *(f"| {k} | {v} |" for k, v in facts), "",
             "| part | measure | figure | bar | ratio to /healthz | result |",
             "| --- | --- | --- | --- | --- | --- |"]
    missed, notes = [], []
    for part, _, _ in PARTS:
        if part not in outcomes:
            continue
        seconds, code, figures = outcomes[part]
        if figures is None:
            lines.append(f"| {part} | could not measure (exit {code}, {seconds:.0f} s; see "
                         "its output above) | — | — | — | **not measured** |")
            missed.append(f"{part}: not measured")
            continue
        for row in figures:
            ratio = f"{row['ratio']:.1f}x" if row.get("ratio") is not None else ""
            lines.append(f"| {part} | {row['what']} | {row['figure']} | {row['bar'] or '—'} "
                         f"| {ratio} | {_result(row)} |")
            if row["met"] is False:
                missed.append(f"{part}: {row['what']} ({row['figure']}, bar {row['bar']})")
            if row.get("note"):
                notes.append(f"- {part}, {row['what']}: {row['note']}")
    lines += ["", "## Verdict", ""]
    lines += ([f"- Not met: {m}" for m in missed] if missed else ["Every bar met."])
    if notes:
        lines += ["", "## Notes", "", *notes]
    lines += ["", "## Parts", ""]
    lines += [f"- **{part}** — {about}" + (f" ({outcomes[part][0]:.0f} s)"
                                           if part in outcomes else " (not run)")
              for part, _, about in PARTS]
    return "\n".join(lines) + "\n"


def main():
    wanted = [p.strip() for p in os.environ.get("BENCH_PARTS", "").split(",") if p.strip()]
    unknown = set(wanted) - {part for part, _, _ in PARTS}
    if unknown:
        print(f"[bench] unknown part(s) {sorted(unknown)}; parts are "
              f"{', '.join(p for p, _, _ in PARTS)}", file=sys.stderr)
        return 2
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    outcomes = {}
    for part, module, _ in PARTS:
        if wanted and part not in wanted:
            continue
        seconds, code = run_part(part, module)
        outcomes[part] = (seconds, code, load(part) if code == 0 else None)
    report = render(machine_facts(), outcomes)
    REPORT.write_text(report)
    print(report, flush=True)
    log(f"report written to {REPORT.relative_to(ROOT)}")
    return 0 if all(figures is not None for _, _, figures in outcomes.values()) else 2


if __name__ == "__main__":
    sys.exit(main())
