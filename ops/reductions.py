"""Reductions over axes. ``reduce_max`` sends its whole derivative to one winner per slice:
the first maximal element in C order (``argmax_mask``)."""
from __future__ import annotations

import numpy as np

from ..engine.autodiff import masked
from ..engine.ir import Aval, GraphError, is_float
from ..engine.primitive import Primitive, bind
from . import kernels
from .rules import np_dtype


def _reduce_rule(name):
    def rule(x, axes, keepdims):
        if x.dtype == "bool":
            raise GraphError(f"{name}: bool input; convert it first (x.astype('int64'))")
        shape = tuple(1 if (keepdims and k in axes) else d for k, d in enumerate(x.shape)
                      if keepdims or k not in axes)
        return Aval(shape, x.dtype)
    return rule


def expand_reduced(ct, x, axes, keepdims):
    """``ct`` of a reduction, broadcast back over ``x`` (the reduced axes restored)."""
    if not keepdims and axes:
        ct = bind("expand_dims", ct, axes=axes)
    return bind("broadcast_like", ct, x)


def _sum_jvp(primals, tangents, ans, axes, keepdims):
    return bind("reduce_sum", tangents[0], axes=axes, keepdims=keepdims)


def _sum_vjp(ct, primals, ans, axes, keepdims):
    return [expand_reduced(ct, primals[0], axes, keepdims)]


Primitive("reduce_sum", _reduce_rule("sum"),
          lambda x, axes, keepdims: np.sum(x, axis=axes, keepdims=keepdims, dtype=x.dtype),
          jvp=_sum_jvp, vjp=_sum_vjp, kind="reduction",
          reduction={"init": lambda n: f"{np_dtype(n.dtype)}(0)", "combine": lambda acc, v: f"{acc} + {v}"},
          emit=lambda target, n, out, a: [f"{out} = np.sum({a}, axis={n.params['axes']}, "
                                          f"keepdims={n.params['keepdims']}, dtype={np_dtype(n.dtype)})"])


def _max_init(n):
    return f"{np_dtype(n.dtype)}(-np.inf)" if is_float(n.dtype) else f"np.iinfo({np_dtype(n.dtype)}).min"


def _max_jvp(primals, tangents, ans, axes, keepdims):
    x = primals[0]
    picked = bind("where", bind("argmax_mask", x, axes=axes), tangents[0], bind("zeros_like", tangents[0]))
    return bind("reduce_sum", picked, axes=axes, keepdims=keepdims)


def _max_vjp(ct, primals, ans, axes, keepdims):
    x = primals[0]
    return [masked(bind("argmax_mask", x, axes=axes), expand_reduced(ct, x, axes, keepdims), True)]


Primitive("reduce_max", _reduce_rule("max"),
          lambda x, axes, keepdims: np.max(x, axis=axes, keepdims=keepdims),
          jvp=_max_jvp, vjp=_max_vjp, kind="reduction",
          reduction={"init": _max_init,
                     "combine": lambda acc, v: f"({acc} if {acc} >= {v} or {acc} != {acc} else {v})"},
          emit=lambda target, n, out, a: [f"{out} = np.max({a}, axis={n.params['axes']}, "
                                          f"keepdims={n.params['keepdims']})"])


def _argmax_mask_emit(target, n, out, a):
    axes = n.params["axes"]
    if target == "numpy":
        return [f"{out} = _k.argmax_mask({a}, {axes})"]
    if target == "cuda":
        return [f"{out} = _cu.full((), True, np.bool_)" if n.ndim == 0 else f"{out} = _cu.argmax_mask({a}, {axes})"]
    if n.ndim == 0:  # a scalar is its own maximum (numba cannot transpose a 0-d array)
        return [f"{out} = np.ones((), dtype=np.bool_)"]
    rest = [k for k in range(n.ndim) if k not in axes]
    perm = tuple(rest + list(axes))
    kept = " * ".join(f"{a}.shape[{k}]" for k in rest) or "1"
    if perm == tuple(range(n.ndim)):  # trailing axes: no transpose (costly for numba to type)
        return [f"{out} = _k.argmax_mask_2d(np.ascontiguousarray({a}).reshape(({kept}, -1))).reshape({a}.shape)"]
    inverse = tuple(int(i) for i in np.argsort(perm))
    moved = f"np.ascontiguousarray(np.transpose({a}, {perm}))"
    return [f"{out}_m = {moved}",
            f"{out} = np.transpose(_k.argmax_mask_2d({out}_m.reshape(({kept}, -1))).reshape({out}_m.shape), {inverse})"]


Primitive("argmax_mask", lambda x, axes: Aval(x.shape, "bool"), kernels.argmax_mask,
          differentiable=False, emit=_argmax_mask_emit, dims=lambda n, d: d[0])


def _dim_size_emit(target, n, out, a):
    size = " * ".join(f"{a}.shape[{k}]" for k in n.params["axes"]) or "1"
    return [f"{out} = {np_dtype(n.dtype)}({size})"]


Primitive("dim_size", lambda x, axes, dtype: Aval((), dtype),
          lambda x, axes, dtype: np.asarray(int(np.prod([x.shape[k] for k in axes], dtype=np.int64)), dtype),
          differentiable=False, emit=_dim_size_emit)
