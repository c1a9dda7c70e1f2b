"""W2 cheap gradient: ``f(x) = sum(tanh(x)*x**2 + exp(-x*x))``, x of 10**6 float64.

The time of f, of its gradient and of both at once, and the ratio time(grad)/time(f): reverse
mode promises a gradient for a small constant times the cost of f (the "cheap gradient" bound).
"""
from __future__ import annotations

import math
from functools import partial

import numpy as np

from adjit import engine, ops

NAME = "w2"
TITLE = "W2 cheap gradient: `sum(tanh(x)*x**2 + exp(-x*x))`, x of 10^6 float64"
TASKS = ("f", "grad", "value_and_grad")
TASK_TITLES = {"f": "f", "grad": "grad f", "value_and_grad": "value+grad"}
ADJIT_TARGETS = ("cpu", "cpu-parallel")
TOL = 1e-9  # normwise relative error against the closed form, float64 (sums of 10^6 terms)


def inputs(quick: bool) -> dict:
    n = 1000 if quick else 10 ** 6
    return {"x": np.random.default_rng(0).normal(size=n)}


def reference(inp) -> dict:
    x = inp["x"]
    t, e = np.tanh(x), np.exp(-x * x)
    value = np.float64(math.fsum(t * x ** 2 + e))
    grad = (1 - t * t) * x ** 2 + 2 * x * t - 2 * x * e
    return {"f": (value,), "grad": (grad,), "value_and_grad": (value, grad)}


def _f(x):
    return ops.sum(ops.tanh(x) * x ** 2 + ops.exp(-x * x))


def adjit(inp) -> dict:
    x = inp["x"]
    f = engine.trace(_f, x)
    return {"f": (f, (x,)), "grad": (engine.grad(f), (x,)), "value_and_grad": (engine.value_and_grad(f), (x,))}


def numpy_by_hand(inp) -> dict:
    def f(x):
        return np.sum(np.tanh(x) * x ** 2 + np.exp(-x * x))

    def grad(x):
        t, e = np.tanh(x), np.exp(-x * x)
        return (1 - t * t) * x ** 2 + 2 * x * t - 2 * x * e

    def value_and_grad(x):
        t, e, x2 = np.tanh(x), np.exp(-x * x), x * x
        return np.sum(t * x2 + e), (1 - t * t) * x2 + 2 * x * (t - e)
    x = inp["x"]
    return {"f": partial(f, x), "grad": partial(grad, x), "value_and_grad": partial(value_and_grad, x)}


def numba_by_hand(inp) -> dict:
    import numba

    @numba.njit
    def f(x):
        s = 0.0
        for i in range(x.size):
            v = x[i]
            s += np.tanh(v) * v * v + np.exp(-v * v)
        return s

    @numba.njit
    def grad(x):
        out = np.empty_like(x)
        for i in range(x.size):
            v = x[i]
            t, e = np.tanh(v), np.exp(-v * v)
            out[i] = (1 - t * t) * v * v + 2 * v * (t - e)
        return out

    @numba.njit
    def value_and_grad(x):
        out = np.empty_like(x)
        s = 0.0
        for i in range(x.size):
            v = x[i]
            t, e = np.tanh(v), np.exp(-v * v)
            s += t * v * v + e
            out[i] = (1 - t * t) * v * v + 2 * v * (t - e)
        return s, out
    x = inp["x"]
    return {"f": partial(f, x), "grad": partial(grad, x), "value_and_grad": partial(value_and_grad, x)}


def _torch_f(v):
    import torch
    return torch.sum(torch.tanh(v) * v ** 2 + torch.exp(-v * v))


def torch_eager(inp) -> dict:
    import torch
    x = torch.from_numpy(inp["x"])
    xr = torch.from_numpy(inp["x"]).requires_grad_(True)

    def grad():
        return torch.autograd.grad(_torch_f(xr), xr)

    def value_and_grad():
        y = _torch_f(xr)
        return y.detach(), torch.autograd.grad(y, xr)[0]
    return {"f": partial(_torch_f, x), "grad": grad, "value_and_grad": value_and_grad}


def torch_compiled(inp) -> dict:
    import torch
    x = torch.from_numpy(inp["x"])
    f = torch.compile(_torch_f)
    g = torch.compile(torch.func.grad(_torch_f))
    gv = torch.compile(torch.func.grad_and_value(_torch_f))

    def value_and_grad():
        grad, value = gv(x)
        return value, grad
    return {"f": partial(f, x), "grad": partial(g, x), "value_and_grad": value_and_grad}


def jax_jit(inp) -> dict:
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    def f(v):
        return jnp.sum(jnp.tanh(v) * v ** 2 + jnp.exp(-v * v))
    x = jax.device_put(inp["x"])
    jf, jg, jvg = jax.jit(f), jax.jit(jax.grad(f)), jax.jit(jax.value_and_grad(f))
    return {"f": lambda: jf(x).block_until_ready(), "grad": lambda: jg(x).block_until_ready(),
            "value_and_grad": lambda: jax.block_until_ready(jvg(x))}


def hips_autograd(inp) -> dict:
    import autograd
    import autograd.numpy as anp

    def f(v):
        return anp.sum(anp.tanh(v) * v ** 2 + anp.exp(-v * v))
    x = inp["x"]
    return {"f": partial(f, x), "grad": partial(autograd.grad(f), x),
            "value_and_grad": partial(autograd.value_and_grad(f), x)}


PEERS = [("numpy by hand", "numpy", numpy_by_hand), ("numba by hand", "numba", numba_by_hand),
         ("PyTorch eager", "torch", torch_eager), ("torch.compile", "torch", torch_compiled),
         ("JAX jit", "jax", jax_jit), ("HIPS autograd", "autograd", hips_autograd)]


def _grad_over_f(row) -> str:
    f, g = row.get("f"), row.get("grad")
    return "–" if f is None or g is None else f"{g / f:.2f}"


COLUMNS = [("grad/f", _grad_over_f)]


def targets(results, compile_times) -> list:
    """Issue #3: grad/f ≤ 2.5, and adjit's value+grad no slower than JAX jit's."""
    from .report import target_row
    rows = []
    for threads, res in results.items():
        f, g = res.time("adjit cpu", "f"), res.time("adjit cpu", "grad")
        rows.append(target_row("W2: grad/f ≤ 2.5 (adjit cpu)", threads, None if f is None or g is None else g / f,
                               2.5, "", busy=res.busy("adjit cpu")))
        f, g = res.time("adjit cpu parallel", "f"), res.time("adjit cpu parallel", "grad")
        if f is not None and g is not None:
            rows.append(target_row("W2: grad/f ≤ 2.5 (adjit cpu parallel)", threads, g / f, 2.5, "",
                                   busy=res.busy("adjit cpu parallel")))
    for threads, res in results.items():
        (a, label), j = res.adjit("value_and_grad"), res.time("JAX jit", "value_and_grad")
        rows.append(target_row(f"W2: value+grad no slower than JAX jit ({label or 'adjit'})", threads,
                               None if a is None or j is None else a / j, 1.0, "x JAX",
                               missing=res.status("JAX jit"), busy=res.busy(label, "JAX jit")))
    return rows
