"""Graph passes, each a pure ``Function -> Function``: CSE, constant folding, algebraic
simplification and DCE. None of them changes a result, for NaN and Inf inputs too: they never
rewrite ``x - x -> 0``, ``x * 0 -> 0`` or ``x / x -> 1``.
"""
from __future__ import annotations

import numpy as np

from ..engine.function import Function, format_param
from ..engine.ir import Node, const
from ..engine.primitive import get, rebind

FOLD_LIMIT = 4096  # constants with more elements than this are left as computations


def _rewrite(f: Function, visit) -> Function:
    """Rebuild ``f`` node by node, replacing each rebuilt node by ``visit(node)``."""
    env = {i.id: i for i in f.inputs}
    for n in f.nodes:
        if n.id in env:
            continue
        new = n if not n.inputs else rebind(n, [env[i.id] for i in n.inputs])
        env[n.id] = visit(new)
    outs = [env[o.id] for o in f.outputs]
    return Function(f.inputs, outs if f.multiple else outs[0], name=f.name)


def dce(f: Function) -> Function:
    """Dead code elimination: a Function holds only what its outputs need, so rebuilding is DCE."""
    return Function(f.inputs, f.outputs if f.multiple else f.outputs[0], name=f.name)


def cse(f: Function) -> Function:
    """Common subexpression elimination by hash-consing (primitive, inputs, params)."""
    table = {}

    def key(n: Node):
        if n.prim == "const":
            v = n.params["value"]
            return ("const", n.dtype, v.shape, v.tobytes())
        params = tuple(sorted((k, format_param(v) if not isinstance(v, (tuple, int, str, bool)) else v)
                              for k, v in n.params.items()))
        return (n.prim, tuple(i.id for i in n.inputs), params)

    return _rewrite(f, lambda n: table.setdefault(key(n), n))


def fold_constants(f: Function) -> Function:
    """Evaluate nodes whose inputs are all constants (when the result is small)."""
    def visit(n: Node):
        if not n.inputs or not all(i.prim == "const" for i in n.inputs) or n.prim == "stop_gradient":
            return n
        if any(d is None for d in n.shape) or int(np.prod(n.shape, dtype=np.int64)) > FOLD_LIMIT:
            return n
        with np.errstate(all="ignore"):
            value = get(n.prim).impl(*[i.params["value"] for i in n.inputs], **n.params)
        return const(np.asarray(value, dtype=n.dtype), n.dtype)
    return _rewrite(f, visit)


def _is_scalar_const(n: Node, value) -> bool:
    return n.prim == "const" and n.params["value"].size == 1 and n.params["value"].reshape(()) == value


def _same(a: Node, b: Node) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype


def _unbroadcast_inputs(n: Node) -> Node:
    """An elementwise node broadcasts its inputs itself: drop explicit broadcasts and size-1
    constant shapes among its inputs when that leaves its result's shape unchanged."""
    if not n.inputs or get(n.prim).kind != "elementwise" or n.prim == "broadcast_like":
        return n
    ins = list(n.inputs)
    for k, i in enumerate(ins):
        plain = i
        if i.prim == "broadcast_like":
            plain = i.inputs[0]
        elif i.prim == "const" and i.ndim > 0 and i.params["value"].size == 1:
            plain = const(i.params["value"].reshape(()), i.dtype)
        if plain is not i:
            trial = rebind(n, ins[:k] + [plain] + ins[k + 1:])
            if _same(trial, n):
                ins[k] = plain
    return rebind(n, ins)


def _skip_expand(n: Node) -> Node:
    """``broadcast_like(expand_dims(y), like)`` is ``broadcast_like(y, like)`` for a scalar ``y``."""
    y, like = n.inputs[0].inputs[0], n.inputs[1]
    if y.ndim:
        return n
    trial = rebind(n, [y, like])
    return trial if _same(trial, n) else n


def simplify(f: Function) -> Function:
    """IEEE-safe algebraic identities: x*1, 1*x, x/1, x+0, 0+x, x-0, x**1, --x, and no-op shape ops."""
    def visit(n: Node):
        n = _unbroadcast_inputs(n)
        ins = n.inputs
        candidate = None
        if n.prim == "mul":
            candidate = ins[0] if _is_scalar_const(ins[1], 1) else ins[1] if _is_scalar_const(ins[0], 1) else None
        elif n.prim == "add":
            candidate = ins[0] if _is_scalar_const(ins[1], 0) else ins[1] if _is_scalar_const(ins[0], 0) else None
        elif n.prim in ("sub", "div", "pow"):
            unit = 0 if n.prim == "sub" else 1
            candidate = ins[0] if _is_scalar_const(ins[1], unit) else None
        elif n.prim == "neg" and ins[0].prim == "neg":
            candidate = ins[0].inputs[0]
        elif n.prim in ("broadcast_like", "broadcast_to", "reshape", "convert", "stop_gradient"):
            candidate = ins[0]
            if n.prim == "broadcast_like" and ins[0].prim == "expand_dims" and not _same(ins[0], n):
                candidate = _skip_expand(n)
        elif n.prim == "transpose" and n.params["perm"] == tuple(range(n.ndim)):
            candidate = ins[0]
        elif n.prim in ("reduce_sum", "reduce_max") and not n.params["axes"]:
            candidate = ins[0]
        return candidate if candidate is not None and _same(candidate, n) else n
    return _rewrite(f, visit)


PIPELINE = (fold_constants, simplify, cse, dce)


def optimize(f: Function) -> Function:
    """The standard pipeline, run twice (one pass's result feeds another's opportunities)."""
    for _ in range(2):
        for p in PIPELINE:
            f = p(f)
    return f
