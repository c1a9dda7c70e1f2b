"""The harness: runs one workload for adjit and every peer, checks each result against the
workload's reference before timing it, and measures cold and warm compile times of adjit.

A workload is a module (``bench/w1_scalar.py``, ...) with this interface; a new workload (LSTM,
RNN, CNN) is a new module added to ``WORKLOADS``:

- ``NAME``, ``TITLE``; ``TASKS``, the timed things (``("grad",)``, ``("f", "grad", ...)``), with
  ``TASK_TITLES`` for the report;
- ``ADJIT_TARGETS``: the adjit variants to run, keys of ``ADJIT_LABELS`` (``"cpu"`` first);
- ``inputs(quick) -> dict`` (``quick``: tiny sizes for a smoke run);
- ``reference(inp) -> {task: tuple of arrays}``: the ground truth, in float64;
- ``adjit(inp) -> {task: (Function, args)}``: the graphs; the harness compiles them for each of
  the ``ADJIT_TARGETS``;
- ``PEERS``: ``[(label, peer, builder)]``, ``peer`` a key of ``peers.PEERS`` and
  ``builder(inp) -> {task: zero-argument callable returning the outputs}``;
- ``TOL``: the largest error accepted; ``error(inp, task, outs, ref)`` may replace the default
  (the largest normwise relative error over the outputs);
- ``targets(results, compile_times) -> [report.target_row(...)]``: the goals of the issue;
- optional ``COLUMNS``: ``[(header, fn(times by task) -> str)]``, extra report columns;
- optional ``PROFILE``: tasks whose compiled adjit function is profiled statement by statement
  (``bench/profile.py``) and shown in the report.
"""
from __future__ import annotations

import importlib
import os
import sys
import time
from functools import partial

import numpy as np

from . import peers
from .timing import first_call, per_call

WORKLOADS = {"w1": "bench.w1_scalar", "w2": "bench.w2_cheap", "w3": "bench.w3_mlp", "w4": "bench.w4_lenet",
             "w5": "bench.w5_word2vec", "w6": "bench.w6_rnn"}
ADJIT_LABELS = {"cpu": "adjit cpu", "cpu-parallel": "adjit cpu parallel", "numpy": "adjit numpy target",
                "interpreter": "adjit interpreter"}
COMPILED = ("adjit cpu", "adjit cpu parallel")  # the compiled variants: "adjit" in ratios and targets


def load(name: str):
    return importlib.import_module(WORKLOADS[name])


class Results:
    """One workload's results at one thread setting (a JSON-able dict underneath)."""

    def __init__(self, data: dict):
        self.data = data
        self.rows = {r["label"]: r for r in data["rows"]}

    def time(self, label: str, task: str):
        """Median seconds per call, or None when that implementation did not run."""
        row = self.rows.get(label)
        t = row and row.get("tasks", {}).get(task)
        return t["median"] if t and "median" in t else None

    def best(self, label: str, task: str):
        """The fastest of the timed runs (seconds per call), or None."""
        row = self.rows.get(label)
        t = row and row.get("tasks", {}).get(task)
        return t["min"] if t and "min" in t else None

    def adjit(self, task: str) -> tuple:
        """(seconds, label) of the fastest compiled adjit variant for ``task`` ((None, None) if none ran):
        what the ratios and the targets call "adjit"."""
        runs = [(self.time(label, task), label) for label in COMPILED]
        runs = [r for r in runs if r[0] is not None]
        return min(runs) if runs else (None, None)

    def busy(self, *labels) -> bool:
        """Whether any of these rows was timed while other processes kept the machine busy."""
        return any((t.get("others") or 0.0) > BUSY for label in labels if label in self.rows
                   for t in self.rows[label]["tasks"].values())

    def status(self, label: str) -> str:
        row = self.rows.get(label)
        return row["status"] if row else "not run"


def relative_error(out, ref) -> float:
    """Normwise relative error: max |out - ref| / max |ref| (absolute where ref is all zeros)."""
    out, ref = np.asarray(out, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    if out.shape != ref.shape:
        return float("inf")
    if out.size == 0:
        return 0.0
    scale = np.max(np.abs(ref))
    err = np.max(np.abs(out - ref))
    return float(err / scale) if scale > 0 else float(err)


def _as_numpy(out) -> tuple:
    """A result as a flat tuple of numpy arrays, whatever framework made it."""
    if isinstance(out, (tuple, list)):
        return tuple(a for o in out for a in _as_numpy(o))
    if hasattr(out, "detach"):  # torch
        out = out.detach().cpu().numpy()
    return (np.asarray(out),)


def _adjit_builder(mod, target):
    def build(inp):
        from adjit import compiler
        fns = {}
        for task, (f, args) in mod.adjit(inp).items():
            if target == "interpreter":
                fn = f
            elif target == "cpu-parallel":
                fn = compiler.jit(f, "cpu", parallel=True)
            else:
                fn = compiler.jit(f, target)
            fns[task] = partial(fn, *args)
        return fns
    return build


def implementations(mod, quick: bool = False) -> list:
    """(label, peer, builder) for every adjit target and peer of the workload, adjit first
    (``quick``: without the parallel variant, whose numba compile is slow)."""
    targets = [t for t in mod.ADJIT_TARGETS if not (quick and t == "cpu-parallel")]
    return [(ADJIT_LABELS[t], "adjit", _adjit_builder(mod, t)) for t in targets] + list(mod.PEERS)


def _check(mod, inp, task, outs, ref) -> float:
    if hasattr(mod, "error"):
        return mod.error(inp, task, outs, ref)
    if len(outs) != len(ref):
        return float("inf")
    return max(relative_error(o, r) for o, r in zip(outs, ref))


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:160] if text else ''}"


def run_workload(name: str, quick: bool, selected, threads: int, only=None, log=sys.stderr) -> dict:
    """Build, check and time every implementation of workload ``name`` in this process (or just
    the one labelled ``only``)."""
    mod = load(name)
    inp = mod.inputs(quick)
    ref = {task: tuple(np.asarray(r) for r in outs) for task, outs in mod.reference(inp).items()}
    timing = {"min_seconds": 0.01, "repeat": 3} if quick else {"min_seconds": 0.2, "repeat": 7}
    rows = []
    for label, peer, build in implementations(mod, quick):
        if only is not None and label != only:
            continue
        row = {"label": label, "peer": peer, "tasks": {}}
        rows.append(row)
        if peer not in selected:
            row["status"] = "not selected"
            continue
        if not peers.installed(peers.PEERS[peer]):
            row["status"] = "not installed"
            continue
        try:
            fns = build(inp)
            for task in mod.TASKS:
                if task not in fns:
                    continue
                out, seconds = first_call(fns[task])
                err = _check(mod, inp, task, _as_numpy(out), ref[task])
                result = {"first_call": seconds, "error": err}
                row["tasks"][task] = result
                if not err <= mod.TOL:
                    row["status"] = f"mismatch: {task} error {err:.2e} > {mod.TOL:.0e}"
                    break
                result.update(_timed(fns[task], timing, attempts=1 if quick else 4))
                print(f"[{threads} thread(s)] {name} {task}: {label}: {result['median'] * 1e6:.4g} µs "
                      f"(error {err:.1e})", file=log, flush=True)
            else:
                row["status"] = "ok"
        except Exception as exc:  # a peer that fails is reported, and the others still run
            row["status"] = f"failed: {_one_line(exc)}"
        if row["status"] != "ok":
            print(f"[{threads} thread(s)] {name}: {label}: {row['status']}", file=log, flush=True)
    out = {"workload": name, "rows": rows, "profile": {}}
    if "adjit" in selected and only in (None, "adjit cpu"):
        for task in getattr(mod, "PROFILE", ()):
            out["profile"][task] = _profile(mod, task, quick)
    return out


BUSY = 0.3  # cores kept busy by other processes during a timing, above which it is tried again


def _timed(fn, timing: dict, attempts: int) -> dict:
    """``per_call(fn)``; when other processes were busy meanwhile (they stall thread barriers
    and share the caches), again after a pause, up to ``attempts`` times: the quietest run counts."""
    runs = []
    for k in range(attempts):
        if k:
            time.sleep(5.0)
        runs.append(per_call(fn, **timing))
        if (runs[-1]["others"] or 0.0) <= BUSY:
            break
    best = min(runs, key=lambda r: ((r["others"] or 0.0) > BUSY, r["others"] or 0.0, r["median"]))
    return dict(best, attempts=len(runs))


def _profile(mod, task: str, quick: bool) -> dict:
    try:
        from .profile import profile_task
        return profile_task(mod, task, quick)
    except Exception as exc:  # the profiler reads generated source as text: it may fall behind codegen
        return {"error": _one_line(exc)}


def worker(names, quick: bool, selected, threads: int, only=None) -> dict:
    """What one fresh process measures, at ``threads`` threads (its environment already set by
    the parent; ``pin_threads`` enforces it again after the imports): every implementation of
    the workloads, or only the one labelled ``only``."""
    peers.pin_threads(threads, selected)
    out = {"threads": threads, "machine": peers.machine(), "workloads": {}, "load": [_load()]}
    for name in names:
        out["workloads"][name] = run_workload(name, quick, selected, threads, only)
    out["load"].append(_load())
    return out


def _load() -> dict:
    """How busy the machine is: the 1-minute load average (our own threads included) and the
    CPU pressure (Linux PSI, "some avg10": % of the last 10 s in which a runnable task waited
    for a CPU). Other work on the machine makes every time here longer."""
    out = {"load": None, "pressure": None}
    try:
        out["load"] = os.getloadavg()[0]
        with open("/proc/pressure/cpu") as fh:
            out["pressure"] = float(fh.readline().split()[1].split("=")[1])
    except (AttributeError, OSError, IndexError, ValueError):
        pass
    return out


def probe(name: str, task: str, quick: bool, started: float) -> dict:
    """Compile one adjit function of a workload in this (new) process, timing each phase:
    imports (since ``started``), graph build (trace and transformations), jit (passes,
    codegen, writing or finding the module), first call (numba: compile, or load from cache)."""
    from adjit import compiler
    mod = load(name)
    imported = time.perf_counter()
    inp = mod.inputs(quick)
    t0 = time.perf_counter()
    f, args = mod.adjit(inp)[task]
    t1 = time.perf_counter()
    c = compiler.jit(f, "cpu")
    t2 = time.perf_counter()
    c(*args)
    t3 = time.perf_counter()
    return {"import": imported - started, "build": t1 - t0, "jit": t2 - t1, "first_call": t3 - t2,
            "total": t3 - t0, "hits": c.cache_hits, "misses": c.cache_misses,
            "nodes": len(c.function.nodes), "lines": c.source.count("\n")}
