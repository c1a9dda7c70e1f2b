"""Differentiation as graph transformation: forward mode (JVP) and reverse mode (VJP).

Both walk a graph once and build new nodes with the primitives' rules; nothing is recorded at
run time. A missing tangent or cotangent (None) is a symbolic zero: no ``0 * x`` is ever built.
"""
from __future__ import annotations

from .function import toposort
from .ir import FUNCTIONS, GraphError, Node, const, is_float
from .primitive import get


def _op(name):
    return FUNCTIONS[name]


def zero_scalar(like: Node) -> Node:
    return const(0, like.dtype)


def is_zero_const(node: Node) -> bool:
    return node.prim == "const" and not node.params["value"].any() or node.prim == "zeros_like"


def split_masked(ct: Node):
    """``(cond, g, on_true)`` when ct is ``where(cond, g, 0)`` (on_true) or ``where(cond, 0, g)``.

    The VJP of ``where`` makes such masked cotangents. Keeping the mask outside of products
    (``where(c, g * d, 0)`` rather than ``where(c, g, 0) * d``) is what stops an unselected
    branch with an infinite derivative, as in ``where(x > 0, log(x), 0)`` at 0, from turning
    the gradient into NaN.
    """
    if ct.prim != "where":
        return None
    cond, a, b = ct.inputs
    if is_zero_const(b) and not is_zero_const(a):
        return cond, a, True
    if is_zero_const(a) and not is_zero_const(b):
        return cond, b, False
    return None


def masked(cond: Node, g: Node, on_true: bool) -> Node:
    zero = zero_scalar(g)
    return _op("where")(cond, g, zero) if on_true else _op("where")(cond, zero, g)


def scale_cotangent(ct: Node, factor: Node, op: str = "mul") -> Node:
    """``ct * factor`` (or ``ct / factor``), with any mask of ``ct`` kept outside the product
    (see ``split_masked``)."""
    parts = split_masked(ct)
    if parts is None:
        return _op(op)(ct, factor)
    cond, g, on_true = parts
    return masked(cond, scale_cotangent(g, factor, op), on_true)


def accumulate(total, ct):
    """Sum of two cotangent contributions; two with the same mask stay one masked node. The
    cotangents of a multi-result node are tuples, summed result by result (None is zero)."""
    if total is None:
        return ct
    if isinstance(ct, tuple):
        return tuple(a if b is None else accumulate(a, b) for a, b in zip(total, ct))
    a, b = split_masked(total), split_masked(ct)
    if a and b and a[0] is b[0] and a[2] == b[2] and a[1].shape == b[1].shape:
        return masked(a[0], accumulate(a[1], b[1]), a[2])
    return _op("add")(total, ct)


def has_float_value(n: Node) -> bool:
    """Whether ``n`` (or, for a multi-result node, one of its results) is a float: differentiable."""
    return any(is_float(a.dtype) for a in n.aval) if n.multiple else is_float(n.dtype)


def jvp_nodes(outputs, tangents: dict) -> list:
    """Tangents of ``outputs`` given tangents of some nodes ({node id: tangent node})."""
    tangents = dict(tangents)
    for n in toposort(outputs):
        if n.id in tangents or not n.inputs or not has_float_value(n):
            continue
        tin = [tangents.get(i.id) for i in n.inputs]
        if all(t is None for t in tin):
            continue
        prim = get(n.prim)
        if not prim.differentiable:
            continue
        if prim.jvp is None:
            raise GraphError(f"{n.prim} (made at {n.origin}) has no forward-mode rule")
        t = prim.jvp(n.inputs, tin, n, **n.params)
        if n.multiple and all(r is None for r in t):
            t = None
        if t is not None:
            _check_same_aval("JVP", n, n, t)
            tangents[n.id] = t
    return [tangents.get(o.id) for o in outputs]


def vjp_nodes(outputs, cotangents, wrt) -> list:
    """Cotangents of the nodes ``wrt`` given cotangents of ``outputs`` (None for zero)."""
    order = toposort(outputs)
    active = {w.id for w in wrt}
    for n in order:
        if any(i.id in active for i in n.inputs) and has_float_value(n) and get(n.prim).differentiable:
            active.add(n.id)
    ct = {}
    for o, c in zip(outputs, cotangents):
        if c is not None and o.id in active:
            ct[o.id] = accumulate(ct.get(o.id), c)
    for n in reversed(order):
        g = ct.get(n.id)
        if g is None or not n.inputs:
            continue
        prim = get(n.prim)
        if prim.vjp is None:
            raise GraphError(f"{n.prim} (made at {n.origin}) has no reverse-mode rule")
        for inp, c in zip(n.inputs, prim.vjp(g, n.inputs, n, **n.params)):
            if c is not None and inp.id in active:
                _check_same_aval("VJP", n, inp, c)
                ct[inp.id] = accumulate(ct.get(inp.id), c)
    return [ct.get(w.id) for w in wrt]


def _check_same_aval(kind, n, like, got):
    """A rule's tangent or cotangent has the aval of what it stands for (each result's, for a
    multi-result node)."""
    for a, g in (zip(like.aval, got) if like.multiple else [(like.aval, got)]):
        if g is not None and (g.ndim != len(a.shape) or g.dtype != a.dtype or any(
                x is not None and y is not None and x != y for x, y in zip(g.shape, a.shape))):
            raise GraphError(f"internal: {kind} rule of {n.prim} gave {g.aval} for a value of {a}")
