"""Waiting for work done by another thread or process (a worker, a receiver)."""

import time


def wait_for(predicate, seconds=15):
    """Poll `predicate` until it is true or `seconds` pass; says which happened."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False
