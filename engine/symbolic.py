"""Functions <-> sympy: the independent oracle for derivatives, and a view of expression swell.

``to_sympy`` evaluates a graph node by node on sympy values: elementwise primitives through
their declared ``to_sympy`` translation, the others (sums, reshapes, matmul, indexing...) through
their numpy implementation run on object arrays of sympy expressions. ``from_sympy`` goes back,
binding the primitives by name. Input symbols are real, so that
derivatives of ``Abs`` and ``Max`` stay real (``sign`` rather than ``re``/``im``).

>>> from adjit import engine, ops
>>> f = engine.trace(lambda x, y: ops.sin(x) * y, 1.0, 2.0)
>>> to_sympy(f)
y*sin(x)
>>> symbolic_grad(f)
(y*cos(x), sin(x))
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import sympy as sp

from . import primitive
from .function import Function
from .ir import FUNCTIONS, GraphError, Node, const, var
from .primitive import bind
from .transforms import _scalar_output


class SymbolicError(GraphError):
    """A graph or expression has no translation: the message names the operation."""


# --- Function -> sympy ----------------------------------------------------------------------------
def _number(v):
    """A sympy number for a numpy scalar: integral floats become Integers (``x**2``, not
    ``x**2.0``); other floats keep their exact binary value."""
    if isinstance(v, sp.Basic):
        return v
    if isinstance(v, (bool, np.bool_)):
        return sp.true if v else sp.false
    if isinstance(v, (int, np.integer)):
        return sp.Integer(int(v))
    v = float(v)
    return sp.Integer(int(v)) if v.is_integer() else sp.Float(v)


def _objects(value) -> np.ndarray:
    """An object array of sympy values (0-d for a scalar)."""
    out = np.empty(np.shape(value), dtype=object)
    if not isinstance(value, np.ndarray):
        out[()] = _number(value)
        return out
    for index in np.ndindex(*value.shape):
        out[index] = _number(value[index])
    return out


def input_symbols(f: Function) -> list:
    """One sympy Symbol per scalar input of ``f``, an object array of Symbols (``W_0_1``) per
    array input; all real. Array inputs need static shapes."""
    syms = []
    for x in f.inputs:
        if any(d is None for d in x.shape):
            raise SymbolicError(f"to_sympy: input {x.name!r} has a dynamic shape {x.aval}; "
                                "sympy needs static shapes")
        if x.shape == ():
            syms.append(sp.Symbol(x.name, real=True))
            continue
        arr = np.empty(x.shape, dtype=object)
        for index in np.ndindex(*x.shape):
            arr[index] = sp.Symbol("_".join([x.name, *map(str, index)]), real=True)
        syms.append(arr)
    return syms


def _apply(node: Node, args: list) -> np.ndarray:
    prim = primitive.get(node.prim)
    if prim.kind == "elementwise":
        if prim.to_sympy is None:
            raise SymbolicError(f"to_sympy: {node.prim} has no sympy translation")
        out = np.frompyfunc(lambda *a: prim.to_sympy(node, *a), len(args), 1)(*args)
    else:
        try:
            out = prim.impl(*args, **node.params)
        except Exception as err:  # numpy cannot run this primitive on symbols (e.g. max compares)
            raise SymbolicError(f"to_sympy: {node.prim} (made at {node.origin}) cannot be evaluated "
                                f"on sympy expressions ({type(err).__name__}: {err})") from None
    out = _objects(out)
    if out.shape != node.shape:
        raise SymbolicError(f"to_sympy: {node.prim} gave shape {out.shape}, expected {node.shape}")
    return out


def _unwrap(arr: np.ndarray):
    return arr[()] if arr.ndim == 0 else arr


def to_sympy(f: Function):
    """The sympy expression of each output of ``f`` (a tuple when it has several): an
    expression for a scalar, an object array of expressions for an array.

    >>> from adjit import engine, ops
    >>> to_sympy(engine.trace(lambda v: ops.sum(v * v), engine.Spec((2,))))
    v_0**2 + v_1**2
    """
    if not isinstance(f, Function):
        raise TypeError(f"to_sympy: expected a Function, got {type(f).__name__} (use engine.trace)")
    env = {x.id: _objects(s) for x, s in zip(f.inputs, input_symbols(f))}
    for n in f.nodes:
        if n.id not in env:
            env[n.id] = _objects(n.params["value"]) if n.prim == "const" else _apply(n, [env[i.id] for i in n.inputs])
    outs = [_unwrap(env[o.id]) for o in f.outputs]
    return tuple(outs) if f.multiple else outs[0]


def _diff(expr, sym):
    if isinstance(sym, np.ndarray):
        return np.frompyfunc(lambda s: sp.diff(expr, s), 1, 1)(sym).astype(object)
    return sp.diff(expr, sym)


def symbolic_grad(f: Function):
    """The sympy derivatives of a scalar ``f`` with respect to each input (a tuple when there
    are several, as ``engine.grad``); for an array input, an object array of derivatives."""
    _scalar_output(f, "symbolic_grad")
    expr = to_sympy(f)
    grads = [_diff(expr, s) for s in input_symbols(f)]
    return grads[0] if len(grads) == 1 else tuple(grads)


# --- sympy -> Function ----------------------------------------------------------------------------
_UNARY = {sp.exp: "exp", sp.log: "log", sp.sin: "sin", sp.cos: "cos", sp.tan: "tan",
          sp.tanh: "tanh", sp.Abs: "abs", sp.sign: "sign"}
_RELATIONS = {sp.StrictLessThan: "less", sp.LessThan: "less_equal", sp.StrictGreaterThan: "greater",
              sp.GreaterThan: "greater_equal", sp.Equality: "equal", sp.Unequality: "not_equal"}
_FOLDS = {sp.Max: "maximum", sp.Min: "minimum"}


def _fold(name, nodes):
    out = nodes[0]
    for n in nodes[1:]:
        out = bind(name, out, n)
    return out


def _negated(term):
    """``t`` when ``term`` is ``-t`` (a Mul with a negative coefficient), else None: so that
    ``x - y/2`` becomes a subtraction rather than ``x + (-1/2)*y``."""
    if isinstance(term, sp.Mul) and term.args[0].is_number and term.args[0].is_negative:
        return -term
    return None


class _Builder:
    """Translates a sympy expression tree into graph nodes, one node per distinct subexpression.
    Every node is float64 (or bool), so primitives are bound directly, without ops' promotion."""

    def __init__(self, inputs: dict):
        self.inputs, self.memo = inputs, {}

    def __call__(self, e):
        if e not in self.memo:
            self.memo[e] = self._build(e)
        return self.memo[e]

    def _build(self, e):
        if isinstance(e, sp.Symbol):
            if e not in self.inputs:
                raise SymbolicError(f"from_sympy: symbol {e} is not among the inputs "
                                    f"{[str(s) for s in self.inputs]}")
            return self.inputs[e]
        if e in (sp.true, sp.false):
            return const(bool(e))
        if e.is_number:
            try:
                return const(float(e), "float64")
            except TypeError:
                raise SymbolicError(f"from_sympy: {e} is not a real number") from None
        if isinstance(e, sp.Add):
            terms = list(e.args)
            first = terms.pop(0)
            out = bind("neg", self(_negated(first))) if _negated(first) is not None else self(first)
            for t in terms:
                out = bind("sub", out, self(_negated(t))) if _negated(t) is not None else bind("add", out, self(t))
            return out
        if isinstance(e, sp.Mul):
            if _negated(e) is not None:
                return bind("neg", self(_negated(e)))
            num, den = sp.fraction(e, exact=True)
            if den != 1:
                return bind("div", self(num), self(den))
            return _fold("mul", [self(a) for a in e.args])
        if isinstance(e, sp.Pow):
            base, exponent = e.args
            if exponent == sp.S.Half:
                return bind("sqrt", self(base))
            if exponent.is_number and exponent < 0:
                return bind("div", const(1.0), self(base ** -exponent))
            return bind("pow", self(base), self(exponent))
        if e.func in _UNARY and len(e.args) == 1:
            return bind(_UNARY[e.func], self(e.args[0]))
        if e.func in _FOLDS:
            return _fold(_FOLDS[e.func], [self(a) for a in e.args])
        if e.func in _RELATIONS:
            return bind(_RELATIONS[e.func], *map(self, e.args))
        if isinstance(e, sp.Not):
            return bind("logical_not", self(e.args[0]))
        if isinstance(e, sp.Piecewise):
            pieces = list(e.args)
            last_value, last_cond = pieces[-1]
            out = self(last_value) if last_cond == sp.true else self(sp.nan)
            for value, cond in reversed(pieces[:-1] if last_cond == sp.true else pieces):
                out = bind("where", self(cond), self(value), out)
            return out
        raise SymbolicError(f"from_sympy: no adjit op for {type(e).__name__} (in {e})")


def from_sympy(expr, symbols, name=None) -> Function:
    """A ``Function`` computing ``expr`` (or a tuple of expressions: several outputs, or an
    object array: one array output) of the scalar float64 inputs ``symbols`` (Symbols, or names).

    >>> import sympy as sp
    >>> x = sp.Symbol("x")
    >>> f = from_sympy(sp.sin(x) ** 2 + 1 / x, [x])
    >>> round(float(f(2.0)), 6)
    1.326822
    """
    symbols = list(symbols)
    free = set().union(*(_number(e).free_symbols for e in _flat(expr)))
    by_name = {s.name: s for s in free}
    syms = [s if isinstance(s, sp.Symbol) else by_name.get(s, sp.Symbol(s)) for s in symbols]
    build = _Builder({s: var(s.name) for s in syms})
    inputs = [build.inputs[s] for s in syms]
    if isinstance(expr, tuple):
        return Function(inputs, tuple(_output(build, e) for e in expr), name=name)
    return Function(inputs, _output(build, expr), name=name)


def _output(build, expr) -> Node:
    if isinstance(expr, np.ndarray):
        flat = [FUNCTIONS["reshape"](build(_number(e)), (1,)) for e in expr.flat]
        return FUNCTIONS["reshape"](FUNCTIONS["concatenate"](flat, 0), expr.shape)
    return build(_number(expr))


def _flat(expr) -> list:
    if isinstance(expr, np.ndarray):
        return list(expr.flat)
    if isinstance(expr, (tuple, list)):
        return [e for x in expr for e in _flat(x)]
    return [expr]


# --- expression swell ---------------------------------------------------------------------------
class Size(NamedTuple):
    """Operation counts of expressions, as a tree and after common-subexpression elimination."""

    ops: int              # sympy.count_ops of the expression tree: shared parts count every time
    ops_after_cse: int    # the same after sympy.cse: each shared part counted once
    subexpressions: int   # how many shared parts cse pulled out


def expression_size(expr) -> Size:
    """How big an expression (or a tuple/array of them) is before and after ``sympy.cse``:
    symbolic derivatives of nested products swell as a tree, not as a graph.

    >>> import sympy as sp
    >>> x = sp.Symbol("x")
    >>> expression_size(sp.sin(x) * sp.sin(x) + sp.sin(x))
    Size(ops=4, ops_after_cse=3, subexpressions=1)
    """
    exprs = [_number(e) for e in _flat(expr)]
    replacements, reduced = sp.cse(exprs)
    after = sum(sp.count_ops(e) for _, e in replacements) + sum(sp.count_ops(e) for e in reduced)
    return Size(sum(sp.count_ops(e) for e in exprs), after, len(replacements))
