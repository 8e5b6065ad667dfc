"""Timing for the linear-time tests: ratios of these, never wall-clock thresholds."""

from __future__ import annotations

import time
from typing import Callable


def best_per_call(fn: Callable[[], object], repeat: int) -> float:
    """Seconds per call of ``fn``: the best of three rounds of ``repeat`` calls."""
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(repeat):
            fn()
        best = min(best, (time.perf_counter() - t0) / repeat)
    return best
