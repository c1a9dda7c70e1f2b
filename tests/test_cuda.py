"""The ``cuda`` target, run on numba's CUDA simulator in other processes (``cuda_checks.py``):
numba.cuda becomes the simulator for a whole process, which must not be this one. No GPU is
needed, so nothing here is skipped without one.

Every op-table row compiled for cpu is compiled for cuda too (value and VJP, both dtypes); a
row that cannot pass yet is a strict xfail with its reason.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from optable import TABLE

HERE = Path(__file__).parent
GROUPS = (("optable", "entry"), ("kernels", "mlp", "lstm"))  # two processes, run side by side
# Rows the cuda target cannot run yet, with the reason (strict xfails: each must go when it passes).
PENDING = {}


def _simulator_env() -> dict:
    return dict(os.environ, NUMBA_ENABLE_CUDASIM="1")


@pytest.fixture(scope="module")
def results() -> dict:
    """check name -> None or its failure, from all groups (each a simulator process)."""
    runs = [subprocess.Popen([sys.executable, str(HERE / "cuda_checks.py"), *group], env=_simulator_env(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for group in GROUPS]
    out = {}
    for group, run in zip(GROUPS, runs):
        stdout, stderr = run.communicate(timeout=600)
        if run.returncode != 0:
            pytest.fail(f"the simulator process for {group} failed:\n{stderr[-3000:]}")
        out.update(json.loads(stdout))
    return out


def _rows():
    out = []
    for op in TABLE:
        if "compile" not in op.checks or "cpu" not in op.targets:
            continue
        reason = op.xfail.get("compile:cuda") or op.xfail.get("compile") or PENDING.get(op.name)
        marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
        out.append(pytest.param(op.name, id=op.name, marks=marks))
    return out


@pytest.mark.parametrize("name", _rows())
def test_op_table_row_on_cuda(name, results):
    """Value and VJP of the row's compiled samples, both dtypes, equal the reference
    interpreter; arrays come back as device arrays of the reference's dtype."""
    assert results[f"optable:{name}"] is None, results[f"optable:{name}"]


@pytest.mark.parametrize("suite,count", [("kernels", 8), ("entry", 6), ("mlp", 1), ("lstm", 1)])
def test_simulator_suite(suite, count, results):
    """kernels: each cuda kernel against a naive numpy reference (convolution and its two
    adjoints, max and average pooling with ties, NaN, padding and overlapping windows, tiled
    matmul, reductions split in chunks); entry: device arrays in without a copy, host arrays
    copied, one-line errors, rank-0 results on the host, names that shadow generated ones;
    mlp: a float32 training step over two calls, the second fed the device arrays of the first;
    lstm: an LSTM's loss and gradients, its scans as host loops launching the fused cell kernels."""
    ran = {k: v for k, v in results.items() if k.startswith(f"{suite}:")}
    assert len(ran) == count, f"{suite}: {sorted(ran)}"
    failed = {k: v for k, v in ran.items() if v is not None}
    assert not failed, "\n".join(f"{k}: {v}" for k, v in failed.items())


def test_without_cuda_jit_says_so_in_one_line():
    """No GPU driver (numba is pointed at a file that is no driver) and no simulator: one
    clear line, not a numba traceback."""
    script = ("from adjit import compiler, engine\n"
              "f = engine.trace(lambda x: x * 2.0, 1.0)\n"
              "try:\n"
              "    compiler.jit(f, 'cuda')\n"
              "except RuntimeError as err:\n"
              "    print(err)\n")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    env["NUMBA_CUDA_DRIVER"] = __file__
    run = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    lines = run.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("jit: target 'cuda' needs an NVIDIA GPU"), run.stdout
    assert "NUMBA_ENABLE_CUDASIM=1" in lines[0]
