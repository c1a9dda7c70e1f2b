"""W1 scalar: per-call latency of the gradient of ``log(x1) + x1*x2 - sin(x2)`` at (2, 5), float64.

Every call does almost no arithmetic, so this measures what a call costs: argument handling,
dispatch, and the allocations of each framework.
"""
from __future__ import annotations

import math
from functools import partial

import numpy as np

from adjit import engine, ops

NAME = "w1"
TITLE = "W1 scalar: gradient of `log(x1) + x1*x2 - sin(x2)` at (2, 5), float64"
TASKS = ("grad",)
TASK_TITLES = {"grad": "gradient per call"}
ADJIT_TARGETS = ("cpu", "numpy", "interpreter")
TOL = 1e-12  # normwise relative error against the closed form, float64


def inputs(quick: bool) -> dict:
    return {"x1": 2.0, "x2": 5.0}


def reference(inp) -> dict:
    x1, x2 = inp["x1"], inp["x2"]
    return {"grad": (np.float64(1.0 / x1 + x2), np.float64(x1 - math.cos(x2)))}


def _f(x1, x2):
    return ops.log(x1) + x1 * x2 - ops.sin(x2)


def adjit(inp) -> dict:
    g = engine.grad(engine.trace(_f, 2.0, 5.0))
    return {"grad": (g, (inp["x1"], inp["x2"]))}


# Each builder returns zero-argument callables (functools.partial, so that no Python frame of the
# harness is timed) whose result is the gradient.

def numpy_by_hand(inp) -> dict:
    def grad(x1, x2):
        return 1.0 / x1 + x2, x1 - np.cos(x2)
    return {"grad": partial(grad, inp["x1"], inp["x2"])}


def numba_by_hand(inp) -> dict:
    import numba

    @numba.njit
    def grad(x1, x2):
        return 1.0 / x1 + x2, x1 - np.cos(x2)
    return {"grad": partial(grad, inp["x1"], inp["x2"])}


def torch_eager(inp) -> dict:
    import torch
    x1 = torch.tensor(inp["x1"], dtype=torch.float64, requires_grad=True)
    x2 = torch.tensor(inp["x2"], dtype=torch.float64, requires_grad=True)

    def grad():
        y = torch.log(x1) + x1 * x2 - torch.sin(x2)
        return torch.autograd.grad(y, (x1, x2))
    return {"grad": grad}


def torch_compiled(inp) -> dict:
    import torch
    g = torch.compile(torch.func.grad(lambda a, b: torch.log(a) + a * b - torch.sin(b), argnums=(0, 1)))
    x1 = torch.tensor(inp["x1"], dtype=torch.float64)
    x2 = torch.tensor(inp["x2"], dtype=torch.float64)
    return {"grad": partial(g, x1, x2)}


def jax_jit(inp) -> dict:
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    g = jax.jit(jax.grad(lambda a, b: jnp.log(a) + a * b - jnp.sin(b), argnums=(0, 1)))
    x1, x2 = jnp.float64(inp["x1"]), jnp.float64(inp["x2"])
    return {"grad": lambda: jax.block_until_ready(g(x1, x2))}


def hips_autograd(inp) -> dict:
    import autograd
    import autograd.numpy as anp
    g = autograd.grad(lambda a, b: anp.log(a) + a * b - anp.sin(b), argnum=(0, 1))
    return {"grad": partial(g, inp["x1"], inp["x2"])}


PEERS = [("numpy by hand", "numpy", numpy_by_hand), ("numba by hand", "numba", numba_by_hand),
         ("PyTorch eager", "torch", torch_eager), ("torch.compile", "torch", torch_compiled),
         ("JAX jit", "jax", jax_jit), ("HIPS autograd", "autograd", hips_autograd)]


def targets(results, compile_times) -> list:
    """Issue #3: the compiled gradient call within 2x of numba by hand."""
    from .report import target_row
    rows = []
    for threads, res in results.items():
        a, n = res.time("adjit cpu", "grad"), res.time("numba by hand", "grad")
        rows.append(target_row("W1: compiled gradient call (adjit cpu) ≤ 2x numba by hand", threads,
                               None if a is None or n is None else a / n, 2.0, "x numba",
                               missing=res.status("numba by hand"), busy=res.busy("adjit cpu", "numba by hand")))
    return rows
