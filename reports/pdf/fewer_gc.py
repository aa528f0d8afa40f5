"""Fewer garbage collections while a PDF is built (shared by templating and layout)."""

import contextlib
import gc
import threading

# Young-generation size while rendering (Python's default is 700).
RENDER_GC_THRESHOLD = 100_000
_gc_lock = threading.Lock()
_gc_renders = 0
_gc_saved = None


@contextlib.contextmanager
def fewer_collections():
    """Run the garbage collector less often while a PDF renders.

    WeasyPrint allocates a few million short-lived objects for a long review; with
    the default thresholds the collector runs thousands of times and keeps walking
    Django's large heap, a third of the render time in tests/bench/pdf_render.py.
    The thresholds are process-wide, so concurrent renders share one raise: the
    first to start raises them, the last to finish restores them (nesting is fine).
    """
    global _gc_renders, _gc_saved
    with _gc_lock:
        if _gc_renders == 0:
            _gc_saved = gc.get_threshold()
            gc.set_threshold(RENDER_GC_THRESHOLD, *_gc_saved[1:])
        _gc_renders += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_renders -= 1
            if _gc_renders == 0:
                gc.set_threshold(*_gc_saved)
