"""Where a compiled adjit function spends its time: each top-level statement of the generated
source (a library call such as ``np.dot``, or one fused loop nest) timed with the CPU's cycle
counter, inside the compiled code itself (numba's objmode would cost tens of µs per timer).

    python -m bench.profile w3            # every task of W3
    python -m bench.profile w2 grad

It reads the generated source as text, so it depends on codegen's layout (one ``@numba.njit``
function, a ``# ...`` comment opening each top-level statement): when that changes it says so
and the benchmarks run without it.
"""
from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
import time

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic


@intrinsic
def _readcyclecounter(typingctx):
    def codegen(context, builder, signature, args):
        fn = builder.module.declare_intrinsic("llvm.readcyclecounter", fnty=ir.FunctionType(ir.IntType(64), []))
        return builder.call(fn, [])
    return types.uint64(), codegen


@numba.njit
def cycles():
    return _readcyclecounter()


def _cycles_per_second() -> float:
    cycles()
    c0, t0 = cycles(), time.perf_counter()
    time.sleep(0.1)
    return (cycles() - c0) / (time.perf_counter() - t0)


def instrument(source: str) -> tuple:
    """(new source, labels): ``source`` with a cycle counter read after each top-level statement
    of its function, added into ``_T[k]`` (a new last argument)."""
    head, sep, body = source.rpartition("\n@numba.njit(")
    if not sep or head.count("\n@numba.njit(") or "\ndef " not in body:
        raise ValueError("profile: expected exactly one @numba.njit function in the generated source")
    decorator, _, rest = body.partition("\n")
    sig, _, body = rest.partition("\n")
    if not (sig.startswith("def ") and sig.endswith("):")):
        raise ValueError(f"profile: unexpected function header {sig!r}")
    groups, current = [], []
    for line in body.split("\n"):
        opens = line.startswith("    # ") and not (current and current[-1].startswith("    # "))
        if (opens or line.startswith("    return")) and current:
            groups.append(current)
            current = []
        current.append(line)
    *groups, ret = groups + [current]
    labels, lines = [], ["    _t0 = _cycles()"]
    for k, group in enumerate(groups):
        labels.append(group[0].strip().lstrip("# "))
        lines += group + ["    _t1 = _cycles()", f"    _T[{k}] += _t1 - _t0", "    _t0 = _t1"]
    lines += ret
    decorator = "@numba.njit(" + decorator.replace("cache=True", "cache=False")
    new = (head + "\nfrom bench.profile import cycles as _cycles\n\n" + decorator + "\n"
           + sig[:-2] + ", _T):\n" + "\n".join(lines))
    return new, labels


def profile(compiled, args, calls: int = 100, batches: int = 5) -> dict:
    """Per-statement seconds per call of ``compiled`` (a ``compiler.jit`` result for "cpu") on
    ``args``; ``generated``: the generated function's time per call (statements + numba's
    dispatch and boxing of the results); ``call``: a whole call of ``compiled`` (adjit's
    Python wrapper around it: argument checks, result conversion). Medians over ``batches``."""
    source, labels = instrument(compiled.source)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "adjit_profiled.py")
        with open(path, "w") as fh:
            fh.write(source)
        spec = importlib.util.spec_from_file_location("adjit_profiled", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules["adjit_profiled"] = module
        try:
            spec.loader.exec_module(module)
        finally:
            del sys.modules["adjit_profiled"]
    fn = getattr(module, compiled.source.rpartition("\ndef ")[2].split("(", 1)[0])
    # the arguments exactly as Compiled passes them (private to compiler/jit.py: may change)
    arrays = list(compiled._arguments(args)) + list(compiled._consts)
    counts = np.zeros(len(labels), dtype=np.uint64)
    fn(*arrays, counts)
    compiled(*args)
    hz = _cycles_per_second()
    per_batch, generated, whole = [], [], []
    for _ in range(batches):  # interleaved, so that a busy moment of the machine hits all three
        counts[:] = 0
        start = time.perf_counter()
        for _ in range(calls):
            fn(*arrays, counts)
        generated.append((time.perf_counter() - start) / calls)
        per_batch.append(counts.astype(np.float64) / hz / calls)
        start = time.perf_counter()
        for _ in range(calls):
            compiled(*args)
        whole.append((time.perf_counter() - start) / calls)
    seconds = np.median(np.array(per_batch), axis=0)
    rows = sorted(zip(seconds.tolist(), labels), reverse=True)
    return {"call": float(np.median(whole)), "generated": float(np.median(generated)),
            "statements": [{"label": label, "seconds": s} for s, label in rows]}


def profile_task(mod, task: str, quick: bool = False) -> dict:
    from adjit import compiler
    f, args = mod.adjit(mod.inputs(quick))[task]
    return profile(compiler.jit(f, "cpu"), args)


def format_profile(p: dict, top: int = 12) -> list:
    """A markdown table: the ``top`` statements, the rest, and what is outside them."""
    from .timing import fmt_time
    total = p["generated"]

    def row(label, seconds):
        return f"| {label} | {fmt_time(max(seconds, 0.0))} | {100 * max(seconds, 0.0) / total:.1f}% |"
    lines = ["| generated statement | time per call | share of the generated function |", "|---|---|---|"]
    lines += [row(f"`{r['label']}`", r["seconds"]) for r in p["statements"][:top]]
    rest = p["statements"][top:]
    if rest:
        lines.append(row(f"{len(rest)} other statements", sum(r["seconds"] for r in rest)))
    inside = sum(r["seconds"] for r in p["statements"])
    lines.append(row("numba dispatch, returning the results", total - inside))
    lines.append(row("**the generated function**", total))
    lines.append(f"| adjit's wrapper around it (argument checks, result conversion) | "
                 f"{fmt_time(max(p['call'] - total, 0.0))} | |")
    lines.append(f"| **a call of the compiled function** | {fmt_time(p['call'])} | |")
    return lines


def main(argv=None) -> int:
    from .harness import WORKLOADS, load
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in WORKLOADS:
        print(f"usage: python -m bench.profile {{{','.join(WORKLOADS)}}} [task]", file=sys.stderr)
        return 2
    mod = load(argv[0])
    for task in argv[1:] or mod.TASKS:
        print(f"\n{mod.NAME} {task}:")
        print("\n".join(format_profile(profile_task(mod, task))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
