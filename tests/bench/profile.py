"""Where a page's time goes: cProfile over Django's test client, in this process.

    from tests.bench.profile import profile_page
    rows = profile_page(client, "/", repeat=20)

Each row is one function's own time (tottime) per request, its share of the whole,
and where it lives, heaviest first: the "profile's top entries" the pages report
lists under its table (issue 19).
"""

import cProfile
import pstats
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[2])


def _where(key):
    filename, line, name = key
    if filename.startswith(ROOT):
        filename = filename[len(ROOT) + 1:]
    else:
        parts = filename.split("site-packages/")
        filename = parts[-1] if len(parts) > 1 else filename.rsplit("/", 2)[-1]
    return f"{filename}:{line}({name})" if line else name


def _own_code(key):
    return key[0].startswith(ROOT) and "/.venv/" not in key[0] and "/tests/" not in key[0]


def profile_page(client, path, *, repeat=20, top=8, cumulative=False):
    """The `top` functions by own time over `repeat` GETs of `path` (after one
    unprofiled GET to warm caches): [(where, ms per request, share of total)]."""
    client.get(path)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(repeat):
        client.get(path)
    profiler.disable()
    stats = pstats.Stats(profiler)
    total = sum(tt for _cc, _nc, tt, _ct, _callers in stats.stats.values()) or 1.0
    if cumulative:  # the project's own functions by time spent in them and below
        rows = sorted(((k, v) for k, v in stats.stats.items() if _own_code(k)),
                      key=lambda item: item[1][3], reverse=True)[:top]
        return [(_where(key), ct / repeat * 1000, ct / total) for key, (_cc, _nc, _tt, ct, _c)
                in rows], total / repeat * 1000
    rows = sorted(stats.stats.items(), key=lambda item: item[1][2], reverse=True)[:top]
    return [(_where(key), tt / repeat * 1000, tt / total) for key, (_cc, _nc, tt, _ct, _c)
            in rows], total / repeat * 1000


def render_profiles(profiles):
    """Markdown: per page, its total profiled time per request and its top entries."""
    lines = ["## Profile (cProfile, Django test client, own time per request)", ""]
    for label, (rows, total) in profiles.items():
        lines.append(f"**{label}** — {total:.1f} ms per request under the profiler")
        lines.append("")
        lines.extend(f"- {ms:.2f} ms ({share:.0%}) {where}" for where, ms, share in rows)
        lines.append("")
    return lines
