"""Rule makers: most primitives are declared in one line from one derivative formula.

An elementwise op gives its partial derivative(s) as a function of its input nodes and ``ans``;
its JVP, VJP, the fused-loop derivative and the sympy cross-check all follow from that formula.
"""
from __future__ import annotations

import numpy as np

from ..engine.autodiff import scale_cotangent
from ..engine.ir import Aval, GraphError, Node, broadcast_shapes, is_float, user_origin
from ..engine.primitive import Primitive, bind


def np_dtype(dtype: str) -> str:
    """The numpy/numba spelling of a dtype in generated code."""
    return "np.bool_" if dtype == "bool" else f"np.{dtype}"


def same_dtype_rule(op, *avals, out_dtype=None, float_only=False):
    dtypes = {a.dtype for a in avals}
    if len(dtypes) > 1:
        raise GraphError(f"{op}: dtypes {' and '.join(a.dtype for a in avals)} differ")
    dtype = dtypes.pop()
    if float_only and not is_float(dtype):
        raise GraphError(f"{op}: needs float inputs, got {dtype}")
    return Aval(broadcast_shapes(op, *(a.shape for a in avals)), out_dtype or dtype)


def unbroadcast(ct: Node, like: Node) -> Node:
    """Sum ``ct`` down to the shape of ``like`` (the adjoint of numpy broadcasting)."""
    if ct.shape == like.shape:
        return ct
    lead = ct.ndim - like.ndim
    ones = tuple(lead + k for k, d in enumerate(like.shape) if d == 1 and ct.shape[lead + k] != 1)
    if not ones:  # only leading axes: one reduction, nothing to squeeze
        return bind("reduce_sum", ct, axes=tuple(range(lead)), keepdims=False)
    ct = bind("reduce_sum", ct, axes=tuple(range(lead)) + ones, keepdims=True)
    return bind("squeeze", ct, axes=tuple(range(lead))) if lead else ct


def broadcast_to_ans(t: Node, ans: Node) -> Node:
    """A tangent of an input, broadcast to the output's shape (zero-cost in fused loops)."""
    return t if t.shape == ans.shape else bind("broadcast_like", t, ans)


def _sum_tangents(terms, ans):
    terms = [t for t in terms if t is not None]
    if not terms:
        return None
    total = terms[0]
    for t in terms[1:]:
        total = bind("add", total, t)
    return broadcast_to_ans(total, ans)


def elementwise(name, impl, partials, scalar, sympy=None, array_code=None, float_only=True,
                out_dtype=None, differentiable=True, jvp=None, vjp=None, target_scalar=None):
    """Declare an elementwise primitive from its partial derivatives.

    ``partials(*inputs, ans)`` returns one derivative node per input: None for zero, True for
    exactly one (so no ``* 1`` is built).
    """

    def shape_rule(*avals, **params):
        return same_dtype_rule(name, *avals, out_dtype=out_dtype, float_only=float_only)

    def default_jvp(primals, tangents, ans, **params):
        ds = partials(*primals, ans)
        return _sum_tangents([None if t is None or d is None else bind("mul", t, d) if d is not True else t
                              for t, d in zip(tangents, ds)], ans)

    def default_vjp(ct, primals, ans, **params):
        ds = partials(*primals, ans)
        return [None if d is None else unbroadcast(ct if d is True else scale_cotangent(ct, d), x)
                for x, d in zip(primals, ds)]

    return Primitive(
        name, shape_rule, impl, jvp=jvp or default_jvp, vjp=vjp or default_vjp,
        kind="elementwise", scalar=scalar, array_code=array_code, target_scalar=target_scalar or {}, to_sympy=sympy,
        differentiable=differentiable)


def check_axes(op: str, axes, ndim: int) -> tuple:
    """Normalize an axis or tuple of axes (negative allowed) for an array of rank ``ndim``."""
    if axes is None:
        return tuple(range(ndim))
    if isinstance(axes, (int, np.integer)):
        axes = (axes,)
    out = []
    for a in axes:
        if not isinstance(a, (int, np.integer)) or not -ndim <= a < ndim:
            raise GraphError(f"{op}: axis {a!r} is out of range for an array of rank {ndim} (at {user_origin()})")
        out.append(int(a) % ndim)
    if len(set(out)) != len(out):
        raise GraphError(f"{op}: repeated axis in {tuple(axes)} (at {user_origin()})")
    return tuple(sorted(out))
