"""bench/RESULTS.md: the machine, the targets of the issue (met or missed, by how much), one
section per workload and thread setting, and adjit's cold compile and warm load times."""
from __future__ import annotations

import datetime

from .harness import BUSY, implementations
from .profile import format_profile
from .timing import fmt_ratio, fmt_time


def target_row(target: str, threads: int, value, limit: float, unit: str, missing: str = "",
               busy: bool = False) -> dict:
    """A goal ``value <= limit``; ``value`` None when it could not be measured (``missing`` says
    why); ``busy`` when a time it rests on was taken while other processes were busy."""
    return {"target": target, "threads": threads, "value": value, "limit": limit, "unit": unit,
            "missing": missing, "busy": busy}


def _fmt_value(v: float, unit: str) -> str:
    return f"{v:.3g}{unit}" if unit.startswith(" ") or not unit else f"{v:.2f}{unit}"


def _target_line(t: dict) -> str:
    v, limit, unit = t["value"], t["limit"], t["unit"]
    if v is None:
        why = f" ({t['missing']})" if t["missing"] and t["missing"] != "ok" else ""
        return f"| {t['target']} | {t['threads']} | – | ≤ {_fmt_value(limit, unit)} | not measured{why} |"
    if v <= limit:
        verdict = f"**met** ({limit / v:.2f}x margin)" if v > 0 else "**met**"
    else:
        verdict = f"**missed** by {v / limit:.2f}x" + (f" ({v - limit:.3g} s over)" if unit == " s" else "")
    if t.get("busy"):
        verdict += " ⚠ timed on a busy machine"
    return f"| {t['target']} | {t['threads']} | {_fmt_value(v, unit)} | ≤ {_fmt_value(limit, unit)} | {verdict} |"


def _machine(info: dict, threads, load: dict, quick: bool) -> list:
    v = {k: x for k, x in info["versions"].items() if x}
    missing = [k for k, x in info["versions"].items() if not x]
    lines = ["## Machine", "",
             f"- CPU: {info['cpu']} ({info['arch']}), {info['cores']} cores, {info['memory']} memory; {info['os']}",
             f"- adjit commit {info.get('commit', 'unknown')}; Python {info['python']}; " + ", ".join(f"{k} {x}" for k, x in v.items())
             + (f"; not installed: {', '.join(missing)}" if missing else ""),
             f"- Thread settings: {', '.join(map(str, threads))}. Each runs in a fresh process with "
             "OMP/MKL/OPENBLAS/NUMBA_NUM_THREADS set before any import (and XLA_FLAGS="
             "`--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1` for 1 thread), "
             "its CPU affinity limited to that many CPUs (so that helper threads, such as JAX's "
             "executor beside the Python thread, share them), then threadpoolctl and "
             "`torch.set_num_threads`.",
             ("- Quick run: every implementation in one process per thread setting." if quick else
              "- Each implementation is timed in a fresh process of its own (one per workload and thread "
              "setting), so that no library's threads (OpenMP spinning after torch's kernels, numba's pool, "
              "BLAS threads) slow another's."),
             "- How busy the machine was, lowest–highest over the timing processes of each thread setting "
             "(other sessions share this machine): " + "; ".join(f"{n} thread{'s' if n > 1 else ''}: "
                                                                 + _busy(load.get(n, [])) for n in threads)
             + ". Column *cores*: CPU time of the timing process over wall time (below 1: it waited "
             "for a CPU; above 1: it kept several threads busy). Column *others*: cores that other "
             "processes kept busy meanwhile (from /proc/stat). Before each timing process the harness "
             "waits (up to `--wait-quiet` seconds) for the machine to be idle.",
             "- OpenBLAS variables: " + ", ".join(f"{k}={x if x is not None else '(unset)'}"
                                                 for k, x in info["openblas_env"].items()), "",
             "Thread pools loaded in adjit's timing process (threadpoolctl): the BLAS that numpy uses "
             "and the one numba's `np.dot` calls, with the kernel each one runs.", "",
             "| library | implementation | version | kernel (threadpoolctl) | threads |", "|---|---|---|---|---|"]
    for b in info["blas"]:
        if "note" in b:
            lines.append(f"| {b['note']} | | | | |")
        else:
            lines.append(f"| {b['library']} ({b['file']}) | {b['api']} | {b['version']} | {b['kernel']} | {b['threads']} |")
    return lines + [""]


def _range(values, fmt) -> str:
    values = [v for v in values if v is not None]
    return f"{fmt(min(values))}–{fmt(max(values))}" if values else "unknown"


def _busy(samples: list) -> str:
    return (f"load average {_range([s['load'] for s in samples], lambda v: f'{v:.2f}')}, "
            f"CPU pressure {_range([s['pressure'] for s in samples], lambda v: f'{v:.0f}%')}")




def _busy_warning(res, threads: int) -> list:
    busy = [label for label, row in res.rows.items()
            if any((t.get("others") or 0) > BUSY for t in row["tasks"].values())]
    if not busy:
        return []
    return [f"*Rows marked ⚠ were timed while other processes kept more than {BUSY} of a core busy "
            "(column *others*; the quietest of up to 4 tries counts): their times are upper bounds."
            + (" With as many threads as cores, one busy neighbour stalls every thread barrier "
               "(a 2-thread OpenBLAS sgemm here went from 0.2 ms to 1.5–18 ms), so multi-threaded "
               "implementations suffer most.*" if threads > 1 else "*"), ""]


def _workload(mod, by_threads: dict) -> list:
    lines = [f"## {mod.TITLE}", "", (mod.__doc__ or "").strip().split("\n\n", 1)[-1].replace("\n", " "), ""]
    tasks = mod.TASKS
    extra = getattr(mod, "COLUMNS", [])
    for threads, res in by_threads.items():
        lines += [f"### {threads} thread{'s' if threads > 1 else ''}", ""] + _busy_warning(res, threads)
        head = ["implementation", "check (max rel. error)"]
        for task in tasks:
            title = mod.TASK_TITLES.get(task, task)
            head += [f"{title}: median (min)", f"adjit/peer ({title})"]
        head += [h for h, _ in extra] + ["cores", "others", "first call"]
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for label, _, _ in implementations(mod):
            row = res.rows.get(label)
            if row is None:
                continue
            others = [t["others"] for t in row["tasks"].values() if t.get("others") is not None]
            status, cells = row["status"], [label + (" ⚠" if others and max(others) > BUSY else "")]
            errors = [t["error"] for t in row["tasks"].values() if "error" in t]
            if status == "ok":
                cells.append(f"ok ({max(errors):.1e})" if errors else "ok")
            else:
                cells.append(status)
            times = {}
            for task in tasks:
                t, a = res.time(label, task), res.adjit(task)[0]
                times[task] = t
                best = res.best(label, task)
                cells += [fmt_time(t) + (f" ({fmt_time(best)})" if best is not None else ""),
                          fmt_ratio(a / t if a is not None and t else None)]
            cells += [fn(times) for _, fn in extra]
            cores = [t["cores"] for t in row["tasks"].values() if "cores" in t]
            cells.append(f"{max(cores):.1f}" if cores else "–")
            cells.append(f"{max(others):.1f}" if others else "–")
            firsts = [t["first_call"] for t in row["tasks"].values() if "first_call" in t]
            cells.append(fmt_time(sum(firsts)) if firsts else "–")
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
        for task, prof in res.data.get("profile", {}).items():
            lines += [f"Where adjit cpu's time goes in `{task}` ({threads} thread{'s' if threads > 1 else ''}; "
                      "`python -m bench.profile " + mod.NAME + "`):", ""]
            if "error" in prof:
                lines += [f"Profile unavailable: {prof['error']}", ""]
            else:
                lines += format_profile(prof) + [""]
    return lines


def _compile(probes: dict) -> list:
    lines = ["## adjit: cold compile and warm load (new processes)", "",
             "Each function is built and compiled in a new process with an empty `ADJIT_CACHE_DIR` "
             "(cold), then in another new process with the cache it filled (warm). *total* is what "
             "the targets are judged on: graph build (trace and transformations) + jit (passes, "
             "codegen, module file) + first call (numba compiles, or loads machine code from its "
             "cache). *import* (numpy, numba, adjit) comes before it and is not in the total.", "",
             "| workload | function | graph nodes | source lines | cold: build / jit / first call | cold total "
             "| warm: build / jit / first call | warm total | warm/cold | import (warm) | warm cache hits / misses |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, tasks in probes.items():
        for task, (cold, warm) in tasks.items():
            def phases(p):
                return " / ".join(fmt_time(p[k]) for k in ("build", "jit", "first_call"))
            lines.append(f"| {name} | {task} | {cold['nodes']} | {cold['lines']} | {phases(cold)} | "
                         f"{fmt_time(cold['total'])} | {phases(warm)} | {fmt_time(warm['total'])} | "
                         f"{warm['total'] / cold['total']:.3f} | {fmt_time(warm['import'])} | "
                         f"{warm['hits']} / {warm['misses']} |")
    return lines + [""]


def render(mods: dict, results: dict, probes: dict, machine: dict, quick: bool, selected, load=None) -> str:
    """The whole RESULTS.md. ``results``: {threads: {workload: Results}}; ``probes``:
    {workload: {task: (cold, warm)}}."""
    threads = list(results)
    today = datetime.date.today().isoformat()
    lines = ["# Benchmark results", "",
             f"Generated by `python -m bench{' --quick' if quick else ''}` (or `make bench`) on {today}. "
             "Times are the median over repeated runs of a loop of calls; *adjit/peer* is adjit's "
             "time over the peer's (below 1: adjit is faster), where adjit is the faster of `jit(f, \"cpu\")` "
             "and `jit(f, \"cpu\", parallel=True)` for that column. Every implementation's result is checked "
             "against a float64 reference before it is timed. Absolute times depend on the machine.", ""]
    if quick:
        lines += ["**Quick run**: tiny sizes and short timings; these numbers are a smoke test, not a "
                  "measurement.", ""]
    skipped = [p for p in ("torch", "jax", "autograd") if p not in selected]
    if skipped:
        lines += [f"Peers not selected in this run: {', '.join(skipped)}.", ""]
    lines += _machine(machine, threads, load or {}, quick)
    rows = []
    for name, mod in mods.items():
        by_threads = {n: results[n][name] for n in threads}
        rows += mod.targets(by_threads, probes.get(name, {}))
    lines += ["## Targets (the issues' goals)", "", "| target | threads | measured | goal | verdict |",
              "|---|---|---|---|---|"] + [_target_line(t) for t in rows] + [""]
    for name, mod in mods.items():
        lines += _workload(mod, {n: results[n][name] for n in threads})
    if probes:
        lines += _compile(probes)
    return "\n".join(lines)
