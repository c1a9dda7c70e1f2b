"""The optional peers (PyTorch, JAX, HIPS autograd), thread pinning and what the machine is.

Peers are never imported at module level: a workload's builder imports the one it needs, and a
peer that is not installed is reported as "not installed", not as an error. Install them with
``pip install -e '.[bench]'`` (see pyproject.toml).
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import platform
import sys

# Names accepted by --peers, each with the package it needs. "adjit" and "numpy" (numpy by
# hand) and "numba" (numba by hand) are always there: they are adjit's own dependencies.
PEERS = {"adjit": "numba", "numpy": "numpy", "numba": "numba", "torch": "torch", "jax": "jax",
         "autograd": "autograd"}

# Thread-count variables read by the BLAS libraries, OpenMP, numba and XLA when they load: set
# in a fresh process before any import (most robust), then enforced again by ``pin_threads``.
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS",
               "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


def installed(package: str) -> bool:
    try:
        return importlib.util.find_spec(package) is not None
    except (ImportError, ValueError):
        return False


def version(package: str):
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def thread_env(n: int) -> dict:
    """Environment variables that limit every library in a new process to ``n`` threads."""
    env = {k: str(n) for k in THREAD_VARS}
    if n == 1:  # XLA's CPU client has no thread-count flag; this keeps it on one thread
        env["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    else:
        env["XLA_FLAGS"] = None  # default: XLA uses every core (all of them are n here, or fewer)
    return env


def pin_cpus(n: int) -> None:
    """Run this process on ``n`` CPUs only (Linux): libraries that start threads of their own
    (XLA's executor, numba's pool) then share those CPUs instead of borrowing another one. Call
    before importing them. The kernel moves unpinned work of other processes off these CPUs."""
    if hasattr(os, "sched_setaffinity") and n < len(os.sched_getaffinity(0)):
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:n])


def pin_threads(n: int, peers=()) -> None:
    """Enforce ``n`` threads in this process too: BLAS pools (threadpoolctl) and torch."""
    if installed("threadpoolctl"):
        import scipy.linalg.cython_blas  # noqa: F401  numba's np.dot calls scipy's BLAS: load it first
        import threadpoolctl
        threadpoolctl.threadpool_limits(n)
    if "torch" in peers and installed("torch"):
        import torch
        torch.set_num_threads(n)


def blas_info() -> list:
    """The BLAS libraries loaded here (numpy's, and scipy's that numba's np.dot calls) and the
    kernel each one runs (threadpoolctl's 'architecture'), with the OpenBLAS variables that force it."""
    import numpy  # noqa: F401
    import scipy.linalg.cython_blas  # noqa: F401
    if not installed("threadpoolctl"):
        return [{"note": "threadpoolctl is not installed: BLAS kernel unknown"}]
    import threadpoolctl
    rows = []
    for lib in threadpoolctl.threadpool_info():
        path = lib.get("filepath", "")
        owner = ("torch" if "torch" in path else "numpy" if "numpy" in path
                 else "scipy (numba's np.dot)" if "scipy" in path else "other")
        rows.append({"library": owner, "api": lib.get("internal_api"), "version": lib.get("version"),
                     "kernel": lib.get("architecture"), "threads": lib.get("num_threads"),
                     "file": os.path.basename(path)})
    return rows


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory() -> str:
    try:
        with open("/proc/meminfo") as fh:
            kb = int(fh.readline().split()[1])
        return f"{kb / 2 ** 20:.0f} GiB"
    except (OSError, ValueError, IndexError):
        return "unknown"


def _commit() -> str:
    """The adjit commit measured (``git describe``; "-dirty" when the working tree has changes)."""
    import subprocess
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=root, capture_output=True,
                             text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 else "unknown (not a git checkout)"


def machine() -> dict:
    """What ran the benchmarks: CPU, cores, memory, OS, Python and every relevant version."""
    packages = ("numpy", "scipy", "numba", "llvmlite", "torch", "jax", "jaxlib", "autograd", "threadpoolctl")
    return {"cpu": _cpu_model(), "arch": platform.machine(), "cores": os.cpu_count(), "memory": _memory(),
            "os": f"{platform.system()} {platform.release()}", "python": sys.version.split()[0],
            "versions": {p: version(p) for p in ("adjit",) + packages}, "commit": _commit(),
            "openblas_env": {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")},
            "blas": blas_info()}
