"""Timing helpers shared by the suites: best-of-repeats per call, and compile times measured in
fresh processes (so numba's in-memory state cannot help)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import timeit


def per_call(fn, min_seconds=0.2, repeat=5) -> float:
    """Seconds per call of ``fn()``: the best of ``repeat`` runs of an auto-sized loop."""
    fn()
    timer = timeit.Timer(fn)
    number, _ = timer.autorange()
    number = max(1, int(number * min_seconds / 0.2))
    return min(timer.repeat(repeat=repeat, number=number)) / number


def in_fresh_process(code: str, cache_dir: str) -> dict:
    """Run ``code`` (which prints one JSON line last) in a new interpreter with ``cache_dir``."""
    env = dict(os.environ, ADJIT_CACHE_DIR=cache_dir)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def cold_and_warm(code: str) -> tuple:
    """(cold, warm) results of ``code``: first in an empty cache dir, then again with it filled."""
    with tempfile.TemporaryDirectory() as cache:
        return in_fresh_process(code, cache), in_fresh_process(code, cache)


def fmt_time(seconds: float) -> str:
    for unit, scale in (("s", 1), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"
