"""One function, four ways to differentiate it, side by side: their values, errors and costs.

The ground truth is symbolic: sympy differentiates the expression of the graph and evaluates
value and derivatives to 50 significant digits at the exact binary values of the inputs. Against
it stand central finite differences, forward-mode AD (one JVP pass per input element) and
reverse-mode AD (one VJP pass for the whole gradient).

>>> from adjit import engine, ops
>>> c = engine.compare(lambda x1, x2: ops.log(x1) + x1 * x2 - ops.sin(x2), at={"x1": 2.0, "x2": 5.0})
>>> c.row("reverse").gradient["x1"]
5.5
>>> c.row("numeric").abs_error < 1e-8
True
"""
from __future__ import annotations

import inspect
import math
import time
from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from . import numeric
from .function import Function, trace
from .ir import GraphError
from .symbolic import _diff, input_symbols, to_sympy
from .transforms import _scalar_output, jvp, value_and_grad

DIGITS = 50


@dataclass
class Method:
    """One row: a method's value and gradient, its worst errors against the ground truth (over
    the gradient's elements; ``value_error`` for the value), the number of function evaluations
    or AD passes one gradient takes, and the seconds one gradient takes."""

    method: str
    value: float
    gradient: dict
    value_error: float
    abs_error: float
    rel_error: float
    evaluations: int
    seconds: float

    def to_dict(self) -> dict:
        return {"method": self.method, "value": _json(self.value),
                "gradient": {k: _json(v) for k, v in self.gradient.items()},
                "value_error": _json(self.value_error), "abs_error": _json(self.abs_error),
                "rel_error": _json(self.rel_error), "evaluations": self.evaluations,
                "seconds": self.seconds}


@dataclass
class Comparison:
    """The result of ``compare``: one ``Method`` row per method, the symbolic one first.
    ``exact`` holds the ground truth as 50-digit strings (``"y"`` and one entry per input)."""

    function: str
    at: dict
    rows: list
    exact: dict = field(default_factory=dict)

    def row(self, prefix: str) -> Method:
        """The first row whose method name starts with ``prefix`` ("numeric", "forward", ...)."""
        for r in self.rows:
            if r.method.startswith(prefix):
                return r
        raise KeyError(f"no method {prefix!r}; methods are {[r.method for r in self.rows]}")

    def to_dict(self) -> dict:
        return {"function": self.function, "at": {k: _json(v) for k, v in self.at.items()},
                "exact": self.exact, "methods": [r.to_dict() for r in self.rows]}

    def __str__(self) -> str:
        names = list(self.rows[0].gradient)
        head = ["method", "y", *(f"dy/d{n}" for n in names), "y err", "max abs err", "max rel err",
                "evals", "time/grad"]
        body = [[r.method, _fmt(r.value), *(_fmt(r.gradient[n]) for n in names), _fmt_err(r.value_error),
                 _fmt_err(r.abs_error), _fmt_err(r.rel_error), str(r.evaluations), _fmt_time(r.seconds)]
                for r in self.rows]
        widths = [max(len(line[k]) for line in [head, *body]) for k in range(len(head))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in [head, *body]]
        at = ", ".join(f"{k}={_fmt(v)}" for k, v in self.at.items())
        title = f"{self.function} at {at}  (errors against sympy at {DIGITS} digits)"
        return "\n".join([title, *lines])


def _json(v):
    """A JSON value: floats stay floats, arrays become lists, NaN and infinities become strings."""
    if isinstance(v, np.ndarray):
        return [_json(x) for x in v.tolist()] if v.ndim else _json(v.item())
    if isinstance(v, list):
        return [_json(x) for x in v]
    v = float(v)
    return v if math.isfinite(v) else str(v)


def _fmt(v) -> str:
    if isinstance(v, np.ndarray) and v.ndim:
        return np.array2string(v, precision=6, separator=",", max_line_width=10_000).replace("\n", "")
    return f"{float(v):.10g}"


def _fmt_err(v: float) -> str:
    return "0" if v == 0 else f"{v:.1e}"


def _fmt_time(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def _time_per_call(fn, budget: float) -> float:
    """Seconds per call of ``fn``: the best of 3 loops sized to share ``budget`` seconds
    (timeit's method: the minimum is the least disturbed measurement)."""
    start = time.perf_counter()
    fn()
    once = max(time.perf_counter() - start, 1e-9)
    number = max(1, int(budget / 3 / once))
    best = once
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - start) / number)
    return best


def _function(f, at: dict):
    """``f`` as a Function and its arguments in input order, every input named in ``at``."""
    if isinstance(f, Function):
        names = [x.name for x in f.inputs]
    elif callable(f):
        names = [p.name for p in inspect.signature(f).parameters.values()]
    else:
        raise TypeError(f"compare: expected a Function or a callable, got {type(f).__name__}")
    if not names:
        raise GraphError("compare: the function has no inputs: there is nothing to differentiate")
    missing = [n for n in names if n not in at]
    extra = [n for n in at if n not in names]
    if missing or extra:
        raise GraphError(f"compare: inputs are {names}; at= lacks {missing} and has unknown {extra}")
    args = [np.asarray(at[n], dtype=np.float64) for n in names]
    if not isinstance(f, Function):
        f = trace(f, *args, names=names)
    _scalar_output(f, "compare")
    return f, args


def _real(v) -> float:
    """A sympy number as a float; NaN where it is not real (``zoo``, ``I*pi``)."""
    try:
        return float(v)
    except TypeError:
        return math.nan


def _errors(approx: list, truth: list):
    """Max absolute and relative error of float arrays against high-precision arrays; where the
    truth is 0 the relative error is the absolute one. Where the truth is not finite, a method
    that does not give the same infinity (or NaN) has a NaN error: there is nothing to measure."""
    abs_err = rel_err = 0.0
    for a, t in zip(approx, truth):
        for x, y in zip(np.ravel(a), np.ravel(t)):
            x, y_float = float(x), _real(y)
            if not math.isfinite(y_float):
                d = r = 0.0 if x == y_float or (math.isnan(x) and math.isnan(y_float)) else math.nan
            elif not math.isfinite(x):
                d = r = math.inf
            else:
                diff = abs(sp.Float(x, DIGITS) - y)
                d, r = float(diff), float(diff / abs(y)) if y != 0 else float(diff)
            abs_err, rel_err = np.maximum(abs_err, d), np.maximum(rel_err, r)  # NaN wins
    return float(abs_err), float(rel_err)


def _floats(v) -> np.ndarray:
    arr = np.asarray(v, dtype=object)
    return np.array([_real(x) for x in arr.flat], dtype=np.float64).reshape(arr.shape)


def _row(name, value, grads, truth_value, truth_grads, names, evaluations, seconds) -> Method:
    grads = [_floats(g) for g in grads]
    abs_err, rel_err = _errors(grads, truth_grads)
    value_err, _ = _errors([value], [truth_value])
    return Method(name, _real(value), {n: g.item() if g.ndim == 0 else g for n, g in zip(names, grads)},
                  value_err, abs_err, rel_err, evaluations, seconds)


def _symbolic(f, args):
    """The ground truth: a function evaluating value and gradient to DIGITS digits."""
    expr = to_sympy(f)
    syms = input_symbols(f)
    grads = [_diff(expr, s) for s in syms]
    subs = {}
    for s, a in zip(syms, args):
        for sym, v in zip(np.ravel(s), np.ravel(a)):
            subs[sym] = sp.Rational(float(v))  # the exact binary value of the input

    def evaluate():
        def at(e):
            return sp.N(e.xreplace(subs), DIGITS)
        return at(expr), [np.frompyfunc(at, 1, 1)(g) if isinstance(g, np.ndarray) else at(g) for g in grads]
    return evaluate


def _basis(args, k, j):
    tangents = [np.zeros_like(a) for a in args]
    tangents[k].flat[j] = 1.0
    return tangents


def compare(f, at: dict, runner=None, time_budget: float = 0.05) -> Comparison:
    """Value and gradient of the scalar function ``f`` at ``at`` (input name -> value) by
    symbolic differentiation (the ground truth), central differences, forward-mode and
    reverse-mode AD, with errors and the time one gradient takes (``time_budget`` seconds of
    measurement per method). AD graphs run on the reference interpreter unless ``runner`` (a
    function from a ``Function`` to a callable, e.g. a compiler's ``jit``) says otherwise.
    """
    f, args = _function(f, at)
    run = runner or (lambda g: g)
    names = [x.name for x in f.inputs]

    evaluate = _symbolic(f, args)
    truth_value, truth_grads = evaluate()
    rows = [_row("symbolic (sympy)", _real(truth_value), truth_grads,
                 truth_value, truth_grads, names, 1, _time_per_call(evaluate, time_budget))]

    f_run = run(f)
    n = sum(a.size for a in args)

    def central():
        g = numeric.grad(f_run, *args)
        return g if isinstance(g, tuple) else (g,)
    rows.append(_row("numeric (central)", f_run(*args), central(), truth_value, truth_grads, names,
                     2 * n, _time_per_call(central, time_budget)))

    fwd = run(jvp(f))

    def forward():
        cols = [[fwd(*args, *_basis(args, k, j))[1] for j in range(a.size)] for k, a in enumerate(args)]
        return [np.reshape(c, a.shape) for c, a in zip(cols, args)]
    rows.append(_row("forward AD (jvp)", fwd(*args, *_basis(args, 0, 0))[0], forward(), truth_value,
                     truth_grads, names, n, _time_per_call(forward, time_budget)))

    rev = run(value_and_grad(f))
    out = rev(*args)
    rows.append(_row("reverse AD (vjp)", out[0], out[1:], truth_value, truth_grads, names, 1,
                     _time_per_call(lambda: rev(*args), time_budget)))

    exact = {"y": str(truth_value)}
    for name, g in zip(names, truth_grads):
        exact[name] = [str(v) for v in g.flat] if isinstance(g, np.ndarray) else str(g)
    shown = {n: (a.item() if a.ndim == 0 else a) for n, a in zip(names, args)}
    return Comparison(f.name, shown, rows, exact)
