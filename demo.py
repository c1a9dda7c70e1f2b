"""``adjit demo``: the main job, in four parts (``adjit demo PART ...`` runs some of them).

1. The worked example of Baydin et al.'s survey, f(x1, x2) = log(x1) + x1*x2 - sin(x2) at (2, 5):
   the forward primal trace, the reverse adjoint trace, and four ways to get its gradient.
2. Expression swell: the symbolic derivative of the nested logistic map grows much faster than
   the derivative graph that AD builds.
3. The compiler: the gradient of sum(tanh(x)*x**2 + exp(-x*x)) as generated code, compiled by
   numba, timed against the function itself (the cheap-gradient principle) and against numpy.
4. Training (``train_demo.py``): models that learn real data with one compiled step each.
5. Gradients through time: ||dL/dh_0|| against the sequence length for Elman RNNs and LSTMs.
"""
from __future__ import annotations

import json
import time
import timeit

import numpy as np

from . import compiler, engine, ops, train_demo
from .engine import compare, symbolic
from .engine.evaltrace import evaluation_trace
from .expression import function_of

EXAMPLE = "log(x1) + x1*x2 - sin(x2)"
AT = {"x1": 2.0, "x2": 5.0}


def logistic(depth: int) -> engine.Function:
    """l_{k+1} = 4 l_k (1 - l_k), ``depth`` times."""
    def f(x):
        for _ in range(depth):
            x = 4.0 * x * (1.0 - x)
        return x
    return engine.trace(f, 0.5, name=f"logistic{depth}")


def swell(depths=range(1, 6)) -> list:
    """Per depth: symbolic derivative size (ops, after cse) and AD derivative graph size (nodes)."""
    rows = []
    for n in depths:
        size = symbolic.expression_size(symbolic.symbolic_grad(logistic(n)))
        rows.append({"depth": n, "symbolic_ops": size.ops, "symbolic_ops_after_cse": size.ops_after_cse,
                     "ad_graph_nodes": len(engine.grad(logistic(n)).nodes)})
    return rows


def _cheap(x):
    return ops.sum(ops.tanh(x) * x ** 2 + ops.exp(-x * x))


def _best(fn, number=5) -> float:
    return min(timeit.repeat(fn, number=number, repeat=3)) / number


def compiled(n: int = 10 ** 6) -> dict:
    """Compile f and its gradient for the cpu target; time them against each other and numpy."""
    x = np.random.default_rng(0).normal(size=n)
    f = engine.trace(_cheap, x, name="f")
    start = time.perf_counter()
    cf, cg = compiler.jit(f, "cpu"), compiler.jit(engine.grad(f), "cpu")
    cf(x), cg(x)
    first_call = time.perf_counter() - start
    t = np.tanh(x)
    error = float(np.max(np.abs(cg(x) - ((1 - t * t) * x ** 2 + 2 * x * t - 2 * x * np.exp(-x * x)))))
    tf, tg = _best(lambda: cf(x)), _best(lambda: cg(x))
    tn = _best(lambda: np.sum(np.tanh(x) * x ** 2 + np.exp(-x * x)))
    return {"n": n, "source": cg.source, "path": str(cg.path), "compile_and_first_call_s": first_call,
            "cache_hits": cg.cache_hits, "f_s": tf, "grad_s": tg, "grad_over_f": tg / tf, "numpy_f_s": tn,
            "max_abs_error_vs_hand_gradient": error}


def basics(as_json: bool) -> dict:
    """Parts 1-3 (printed unless ``as_json``); their figures."""
    f = function_of(EXAMPLE, list(AT))
    trace = evaluation_trace(f, *AT.values())
    methods = compare(f, AT)
    sizes = swell()
    fast = compiled()
    if as_json:
        return {"expression": EXAMPLE, "trace": trace.to_dict(), "compare": methods.to_dict(),
                "swell": sizes, "compiled": fast}
    point = ", ".join(f"{k}={v:g}" for k, v in AT.items())
    print(f"1. y = {EXAMPLE}  at {point}\n")
    print(trace, end="\n\n")
    print(methods, end="\n\n")
    print("2. Expression swell: d/dx of the logistic map l <- 4 l (1 - l), nested n times\n")
    print("  n  symbolic ops  after sympy.cse  AD graph nodes")
    for r in sizes:
        print(f"  {r['depth']}  {r['symbolic_ops']:>12}  {r['symbolic_ops_after_cse']:>15}  {r['ad_graph_nodes']:>14}")
    print(f"\n3. Compiled gradient of sum(tanh(x)*x**2 + exp(-x*x)), x of {fast['n']:,} float64 "
          f"(generated module: {fast['path']})\n")
    print(fast["source"].split("\n\n\n", 1)[-1])
    print(f"  compile + first call   {fast['compile_and_first_call_s']:.2f} s "
          f"({'loaded from the on-disk cache' if fast['cache_hits'] else 'compiled; the next run loads it from the cache'})")
    print(f"  f                      {fast['f_s'] * 1e3:.1f} ms  (numpy: {fast['numpy_f_s'] * 1e3:.1f} ms)")
    print(f"  grad f                 {fast['grad_s'] * 1e3:.1f} ms  = {fast['grad_over_f']:.2f} x f")
    print(f"  max |error| vs the gradient written by hand: {fast['max_abs_error_vs_hand_gradient']:.1e}")
    return {}


def gradients(as_json: bool, plot_path: str = "gradients.png") -> dict:
    """The vanishing/exploding gradient study (``nn.gradient_study``): a table and a PNG plot."""
    from .nn import gradient_study
    result = gradient_study.study()
    gradient_study.plot(result, plot_path)
    if not as_json:
        print("\n5. " + gradient_study.format_table(result))
        print(f"\n  plot (log scale): {plot_path}")
    return {"gradients": {**result, "plot": plot_path}}


PARTS = ("basics",) + tuple(train_demo.TRAININGS) + ("gradients",)


def demo(args) -> int:
    """Run the parts ``args.parts`` (default: all of them) of the demo, printed or as JSON
    (``args.json``); the exit code."""
    parts = getattr(args, "parts", None) or PARTS
    as_json = getattr(args, "json", False)
    out = {}
    if "basics" in parts:
        out.update(basics(as_json))
    trainings = [p for p in parts if p in train_demo.TRAININGS]
    if trainings:
        if not as_json:
            print("\n4. Training: compiled steps (forward, gradient and update in one function) on real data\n")
        out["training"] = train_demo.run(trainings, verbose=False if as_json else None)
    if "gradients" in parts:
        out.update(gradients(as_json))
    if as_json:
        print(json.dumps(out, indent=2))
    return 0
