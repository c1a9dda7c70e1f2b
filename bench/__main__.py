"""``python -m bench`` (or ``make bench``): run every workload for adjit and each installed peer,
at 1 thread then 2, and write bench/RESULTS.md. Options:

    --quick               tiny sizes, short timings, 1 thread only, one compile probe per
                          workload: a smoke run
    --workloads w1,w2     a subset of the workloads (default: all)
    --peers adjit,numpy   a subset of the implementations (default: all; missing ones are
                          reported as "not installed")
    --threads 1,2         the thread settings (default 1,2; with --quick, 1)
    --output PATH         where to write the report (default bench/RESULTS.md)
    --no-compile-times    skip the cold/warm compile measurements
    --wait-quiet SECONDS  before each timing process, wait at most this long for the other
                          processes of the machine to go idle (default 20; not in --quick)

A full run times each implementation in a fresh process of its own, per workload and thread
setting, whose environment pins the threads before any import; a quick run uses one process
per thread setting. adjit's cold compile and warm load are measured in further new processes.
"""
import time

_STARTED = time.perf_counter()  # before any heavy import: the probes report import time from here

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench", description="adjit benchmarks against its peers")
    p.add_argument("--quick", action="store_true", help="tiny sizes and short timings (a smoke run)")
    p.add_argument("--workloads", default=None, help="comma-separated subset of the workloads")
    p.add_argument("--peers", default=None, help="comma-separated subset of adjit,numpy,numba,torch,jax,autograd")
    p.add_argument("--threads", default=None, help="comma-separated thread settings (default 1,2)")
    p.add_argument("--output", default=str(Path(__file__).with_name("RESULTS.md")))
    p.add_argument("--no-compile-times", action="store_true", help="skip the cold/warm compile measurements")
    p.add_argument("--wait-quiet", type=float, default=20.0, metavar="SECONDS",
                   help="before each timing process, wait up to this long for other processes to go idle")
    # internal: what the parent asks of the fresh processes it starts
    p.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--only", default=None, help=argparse.SUPPRESS)
    p.add_argument("--probe", default=None, help=argparse.SUPPRESS)
    p.add_argument("--json-out", default=None, help=argparse.SUPPRESS)
    return p


def _subprocess(args: list, env: dict) -> dict:
    """Run ``python -m bench ARGS`` in a new process; its stderr (progress) passes through."""
    from .timing import run_python
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "result.json")
        return run_python(["-m", "bench", *args, "--json-out", out], env, out)


def _worker(n: int, args: list) -> dict:
    """``python -m bench --worker n ARGS`` in a fresh process whose environment pins ``n``
    threads, with empty adjit and torch.compile caches (the "first call" column is cold)."""
    from . import peers
    from .timing import fresh_env
    with tempfile.TemporaryDirectory() as adjit_cache, tempfile.TemporaryDirectory() as inductor_cache:
        env = fresh_env(**peers.thread_env(n), ADJIT_CACHE_DIR=adjit_cache, TORCHINDUCTOR_CACHE_DIR=inductor_cache)
        return _subprocess(args + ["--worker", str(n)], env)


def _measure(n: int, names: list, selected: list, quick: bool, args_wait: float) -> tuple:
    """(results by workload, machine, load averages) at ``n`` threads. A quick run uses one
    process; a full run one fresh process per implementation and workload, so that no library's
    threads (OpenMP spinning after torch's kernels, numba's pool, BLAS threads) slow another's."""
    from . import harness, peers
    from .timing import wait_until_quiet
    if quick:
        out = _worker(n, ["--quick", "--workloads", ",".join(names), "--peers", ",".join(selected)])
        return out["workloads"], out["machine"], out["load"]
    workloads, machine, load = {}, None, []
    for name in names:
        rows, profile = [], {}
        for label, peer, _ in harness.implementations(harness.load(name)):
            row = {"label": label, "peer": peer, "tasks": {}}
            if peer not in selected:
                rows.append(dict(row, status="not selected"))
            elif not peers.installed(peers.PEERS[peer]):
                rows.append(dict(row, status="not installed"))
            else:  # this process loads only its own peer (not torch's OpenMP beside numba, say)
                waited = wait_until_quiet(args_wait)
                if waited > 1.5:
                    print(f"waited {waited:.0f} s for the machine to be quiet", file=sys.stderr, flush=True)
                out = _worker(n, ["--workloads", name, "--only", label, "--peers", peer])
                machine, load = machine or out["machine"], load + out["load"]
                rows += out["workloads"][name]["rows"]
                profile.update(out["workloads"][name]["profile"])
        workloads[name] = {"workload": name, "rows": rows, "profile": profile}
    return workloads, machine, load


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    if args.worker is not None:
        from .peers import pin_cpus
        pin_cpus(args.worker)  # before numpy, numba, torch or jax start any thread
    from . import harness, peers
    names = args.workloads.split(",") if args.workloads else list(harness.WORKLOADS)
    unknown = [n for n in names if n not in harness.WORKLOADS]
    selected = args.peers.split(",") if args.peers else list(peers.PEERS)
    unknown += [p for p in selected if p not in peers.PEERS]
    if unknown:
        print(f"python -m bench: unknown workload or peer: {', '.join(unknown)}", file=sys.stderr)
        return 2

    if args.worker is not None or args.probe is not None:  # we are a fresh process of the parent
        if args.worker is not None:
            result = harness.worker(names, args.quick, selected, args.worker, args.only)
        else:
            name, task = args.probe.split(":")
            result = harness.probe(name, task, args.quick, _STARTED)
        with open(args.json_out, "w") as fh:
            json.dump(result, fh)
        return 0

    from . import report
    from .timing import cold_and_warm, fresh_env, wait_until_quiet
    threads = [int(t) for t in args.threads.split(",")] if args.threads else ([1] if args.quick else [1, 2])
    results, machine, load = {}, None, {}
    for n in threads:
        workloads, machine_n, load[n] = _measure(n, names, selected, args.quick, args.wait_quiet)
        machine = machine or machine_n
        results[n] = {name: harness.Results(data) for name, data in workloads.items()}

    probes = {}
    if not args.no_compile_times and "adjit" in selected:
        env = fresh_env(**peers.thread_env(1))
        for name in names:
            mod = harness.load(name)
            probes[name] = {}
            for task in mod.TASKS[-1:] if args.quick else mod.TASKS:  # quick: one function each
                base = ["-m", "bench", "--probe", f"{name}:{task}"] + (["--quick"] if args.quick else [])
                if not args.quick:
                    wait_until_quiet(args.wait_quiet)
                with tempfile.TemporaryDirectory() as tmp:
                    out = os.path.join(tmp, "probe.json")
                    cold, warm = cold_and_warm(base + ["--json-out", out], env, result_file=out)
                probes[name][task] = (cold, warm)
                print(f"compile {name}:{task}: cold {cold['total']:.3f} s, warm {warm['total']:.3f} s",
                      file=sys.stderr, flush=True)

    mods = {name: harness.load(name) for name in names}
    text = report.render(mods, results, probes, machine, args.quick, selected, load)
    Path(args.output).write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
