"""Timing helpers shared by the workloads: the median time per call (with the CPU time it used, so
a report shows how many cores a peer really kept busy), and runs in fresh processes for cold
compile and warm load times (so numba's in-memory state cannot help)."""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the repository root: `python -m bench` runs from here


def per_call(fn, min_seconds=0.2, repeat=7) -> dict:
    """Time ``fn()``: ``repeat`` runs of a loop sized to last about ``min_seconds`` each.

    Returns seconds per call (``median`` and ``min`` over the runs), ``cores``: process CPU
    time over wall time, about 1 for a single-threaded call and more when threads help, and
    ``others``: the cores that other processes of the machine kept busy meanwhile.
    """
    fn()
    number, enough = 1, min(0.02, min_seconds / 2)
    while True:  # size the loop from the time of 1, 10, 100, ... calls
        start = time.perf_counter()
        for _ in range(number):
            fn()
        elapsed = time.perf_counter() - start
        if elapsed >= enough or number >= 10 ** 6:
            break
        number *= 10
    number = max(1, int(number * min_seconds / elapsed))
    walls, cpus = [], []
    busy0, own0, wall0 = busy_cpu_seconds(), time.process_time(), time.perf_counter()
    for _ in range(repeat):
        c0, w0 = time.process_time(), time.perf_counter()
        for _ in range(number):
            fn()
        w1, c1 = time.perf_counter(), time.process_time()
        walls.append((w1 - w0) / number)
        cpus.append((c1 - c0) / number)
    busy1, own1, wall1 = busy_cpu_seconds(), time.process_time(), time.perf_counter()
    median = statistics.median(walls)
    others = None if busy0 is None else max(0.0, (busy1 - busy0 - (own1 - own0)) / (wall1 - wall0))
    return {"median": median, "min": min(walls), "cores": statistics.median(cpus) / median if median else 1.0,
            "calls": number * repeat, "others": others}


def busy_cpu_seconds():
    """CPU seconds all processes of the machine have used so far (Linux /proc/stat), or None."""
    try:
        with open("/proc/stat") as fh:
            fields = [int(v) for v in fh.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def wait_until_quiet(max_seconds: float, threshold: float = 0.25) -> float:
    """Wait (at most ``max_seconds``) until other processes use less than ``threshold`` of a core
    over one second (we are idle meanwhile): with as many threads as cores, one busy neighbour
    stalls every thread barrier. Returns the seconds waited."""
    start = time.perf_counter()
    while True:
        b0, t0 = busy_cpu_seconds(), time.perf_counter()
        if b0 is None:
            return 0.0
        time.sleep(1.0)
        if (busy_cpu_seconds() - b0) / (time.perf_counter() - t0) < threshold:
            return time.perf_counter() - start
        if time.perf_counter() - start > max_seconds:
            return time.perf_counter() - start


def first_call(fn) -> tuple:
    """(result, seconds) of the first call of ``fn()``: compile time for the JIT peers."""
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def run_python(args: list, env: dict, result_file: str, timeout: float = 3600) -> dict:
    """Run ``python ARGS`` from the repository root with ``env`` and return the JSON it wrote to
    ``result_file``. Its output goes to our stderr, so progress shows and stdout stays the report's."""
    try:
        err = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # stderr replaced by something without a file
        err = None
    out = subprocess.run([sys.executable, *args], env=env, cwd=ROOT, stdout=err, stderr=err, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"`python {' '.join(args)}` failed with exit status {out.returncode} (its output is above)")
    with open(result_file) as fh:
        return json.load(fh)


def cold_and_warm(args: list, env: dict, result_file: str) -> tuple:
    """(cold, warm) results of ``python ARGS``: first with an empty ADJIT_CACHE_DIR, then again,
    in another new process, with the cache it filled."""
    with tempfile.TemporaryDirectory() as cache:
        env = dict(env, ADJIT_CACHE_DIR=cache)
        return run_python(args, env, result_file), run_python(args, env, result_file)


def fmt_time(seconds) -> str:
    if seconds is None:
        return "–"
    for unit, scale in (("s", 1), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def fmt_ratio(r) -> str:
    return "–" if r is None else f"{r:.2f}x"


def fresh_env(**extra) -> dict:
    """The current environment with ``extra`` set (values of None remove a variable)."""
    env = dict(os.environ)
    for k, v in extra.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = str(v)
    return env
