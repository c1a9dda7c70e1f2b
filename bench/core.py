"""Core-engine benchmarks (issue #2): per-call latency of a compiled gradient, the cheap-gradient
ratio, and cold compile vs warm (cached, new process) load times."""
from __future__ import annotations

import importlib.util
import textwrap

import numpy as np

from adjit import compiler, engine, ops

from .timing import cold_and_warm, fmt_time, per_call


def _example(x1, x2):
    return ops.log(x1) + x1 * x2 - ops.sin(x2)


def _example_grad_by_hand(x1, x2):
    return 1.0 / x1 + x2, x1 - np.cos(x2)


def _cheap(x):
    return ops.sum(ops.tanh(x) * x ** 2 + ops.exp(-x * x))


def _cheap_numpy(x):
    return np.sum(np.tanh(x) * x ** 2 + np.exp(-x * x))


def _cheap_grad_numpy(x):
    t, e = np.tanh(x), np.exp(-x * x)
    return (1 - t * t) * x ** 2 + 2 * x * t - 2 * x * e


def latency() -> list:
    """Per-call latency of the compiled gradient of log(x1) + x1*x2 - sin(x2)."""
    g = engine.grad(engine.trace(_example, 2.0, 5.0))
    cpu = compiler.jit(g, "cpu")
    rows = [("numpy by hand", per_call(lambda: _example_grad_by_hand(2.0, 5.0))),
            ("adjit cpu (numba)", per_call(lambda: cpu(2.0, 5.0))),
            ("adjit numpy target", per_call(lambda: compiler.jit(g, "numpy")(2.0, 5.0))),
            ("adjit reference interpreter", per_call(lambda: g(2.0, 5.0)))]
    if importlib.util.find_spec("torch"):
        import torch
        x1 = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
        x2 = torch.tensor(5.0, dtype=torch.float64, requires_grad=True)

        def torch_grad():
            y = torch.log(x1) + x1 * x2 - torch.sin(x2)
            return torch.autograd.grad(y, (x1, x2))
        rows.append(("PyTorch eager", per_call(torch_grad)))
    if importlib.util.find_spec("jax"):
        import jax
        jax.config.update("jax_enable_x64", True)
        jg = jax.jit(jax.grad(lambda a, b: jax.numpy.log(a) + a * b - jax.numpy.sin(b), argnums=(0, 1)))
        rows.append(("JAX jit", per_call(lambda: [v.block_until_ready() for v in jg(2.0, 5.0)])))
    return rows


def cheap_gradient(n=10 ** 6) -> list:
    """time(gradient) / time(function) for sum(tanh(x)*x**2 + exp(-x*x)), x of n float64."""
    x = np.random.default_rng(0).normal(size=n)
    f = engine.trace(_cheap, x)
    cf, cg = compiler.jit(f, "cpu"), compiler.jit(engine.grad(f), "cpu")
    assert np.allclose(cg(x), _cheap_grad_numpy(x))
    rows = [("adjit cpu", per_call(lambda: cf(x)), per_call(lambda: cg(x))),
            ("numpy by hand", per_call(lambda: _cheap_numpy(x)), per_call(lambda: _cheap_grad_numpy(x)))]
    if importlib.util.find_spec("torch"):
        import torch
        xt = torch.tensor(x)

        def torch_grad():
            v = xt.clone().requires_grad_(True)
            y = torch.sum(torch.tanh(v) * v ** 2 + torch.exp(-v * v))
            return torch.autograd.grad(y, v)
        rows.append(("PyTorch eager", per_call(lambda: torch.sum(torch.tanh(xt) * xt ** 2 + torch.exp(-xt * xt))),
                     per_call(torch_grad)))
    if importlib.util.find_spec("jax"):
        import jax
        jax.config.update("jax_enable_x64", True)
        jf = jax.jit(lambda v: jax.numpy.sum(jax.numpy.tanh(v) * v ** 2 + jax.numpy.exp(-v * v)))
        jgr = jax.jit(jax.grad(lambda v: jax.numpy.sum(jax.numpy.tanh(v) * v ** 2 + jax.numpy.exp(-v * v))))
        rows.append(("JAX jit", per_call(lambda: jf(x).block_until_ready()),
                     per_call(lambda: jgr(x).block_until_ready())))
    return rows


_COMPILE = textwrap.dedent('''
    import json, time
    t0 = time.perf_counter()
    import numpy as np
    from adjit import compiler, engine, ops
    t1 = time.perf_counter()
    {build}
    c = compiler.jit(f, "cpu")
    t2 = time.perf_counter()
    c(*args)
    t3 = time.perf_counter()
    print(json.dumps({{"import": t1 - t0, "codegen": t2 - t1, "first_call": t3 - t2,
                      "hits": c.cache_hits, "misses": c.cache_misses, "nodes": len(c.function.nodes)}}))
''')

_CHEAP_BUILD = ("args = [np.ones(1000)]\n"
                "f = engine.grad(engine.trace(lambda x: ops.sum(ops.tanh(x) * x ** 2 + ops.exp(-x * x)), *args))")
_MLP_BUILD = textwrap.dedent('''\
    def loss(W1, b1, W2, b2, x, y):
        h = ops.tanh(x @ W1 + b1)
        return -ops.mean(ops.sum(ops.log_softmax(h @ W2 + b2) * y, axis=-1))
    r = np.random.default_rng(0)
    args = [r.normal(size=(784, 128)), np.zeros(128), r.normal(size=(128, 10)), np.zeros(10),
            r.normal(size=(32, 784)), np.eye(10)[r.integers(0, 10, 32)]]
    f = engine.value_and_grad(engine.trace(loss, *args), wrt=["W1", "b1", "W2", "b2"])''')


def compile_times() -> list:
    """Cold compile (empty cache, new process) vs warm load (filled cache, new process)."""
    rows = []
    for name, build in (("cheap gradient", _CHEAP_BUILD), ("MLP 784-128-10 value_and_grad", _MLP_BUILD)):
        cold, warm = cold_and_warm(_COMPILE.format(build=build))
        rows.append((name, cold, warm))
    return rows


def report() -> str:
    lines = ["## Core engine (issue #2)", ""]
    lat = latency()
    ref = lat[0][1]
    lines += ["### Per-call latency: gradient of `log(x1) + x1*x2 - sin(x2)` at (2, 5)", "",
              "| implementation | time per call | vs numpy by hand |", "|---|---|---|"]
    lines += [f"| {name} | {fmt_time(t)} | {t / ref:.2f}x |" for name, t in lat]
    lines += ["", "### Cheap-gradient ratio: `sum(tanh(x)*x**2 + exp(-x*x))`, x of 10^6 float64", "",
              "| implementation | f | grad f | grad/f | f vs numpy |", "|---|---|---|---|---|"]
    cheap = cheap_gradient()
    ref_f = next(r[1] for r in cheap if r[0] == "numpy by hand")
    lines += [f"| {n} | {fmt_time(tf)} | {fmt_time(tg)} | {tg / tf:.2f} | {tf / ref_f:.2f}x |" for n, tf, tg in cheap]
    lines += ["", "### Compile: cold (empty cache, new process) vs warm (cached, new process)", "",
              "| function | graph nodes | cold first call | warm first call | warm/cold | warm cache hits / misses |",
              "|---|---|---|---|---|---|"]
    for name, cold, warm in compile_times():
        lines.append(f"| {name} | {cold['nodes']} | {fmt_time(cold['first_call'])} | {fmt_time(warm['first_call'])} "
                     f"| {warm['first_call'] / cold['first_call']:.3f} | {warm['hits']} / {warm['misses']} |")
    return "\n".join(lines) + "\n"
