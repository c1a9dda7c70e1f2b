"""Matrix product (batched, numpy broadcasting over leading dims). Rank-1 operands are handled
by the front end (``ops.matmul``) with expand_dims/squeeze, so the primitive sees rank >= 2."""
from __future__ import annotations

import numpy as np

from ..engine.ir import Aval, GraphError, format_shape, broadcast_shapes
from ..engine.primitive import Primitive, bind
from .rules import unbroadcast


def _matmul_rule(x, y):
    if x.ndim < 2 or y.ndim < 2:
        raise GraphError(f"matmul: operands need rank >= 2 here, got {x} and {y}")
    if x.dtype != y.dtype:
        raise GraphError(f"matmul: dtypes {x.dtype} and {y.dtype} differ")
    k1, k2 = x.shape[-1], y.shape[-2]
    if k1 is not None and k2 is not None and k1 != k2:
        raise GraphError(f"matmul: shapes {format_shape(x.shape)} and {format_shape(y.shape)} do not align "
                         f"({k1} != {k2})")
    batch = broadcast_shapes("matmul", x.shape[:-2], y.shape[:-2])
    return Aval(batch + (x.shape[-2], y.shape[-1]), x.dtype)


def swap_last(x):
    perm = tuple(range(x.ndim - 2)) + (x.ndim - 1, x.ndim - 2)
    return bind("transpose", x, perm=perm)


def _matmul_jvp(primals, tangents, ans):
    x, y = primals
    tx, ty = tangents
    terms = [bind("matmul", tx, y) if tx is not None else None, bind("matmul", x, ty) if ty is not None else None]
    terms = [t for t in terms if t is not None]
    out = terms[0] if len(terms) == 1 else bind("add", *terms)
    return out if out.shape == ans.shape else bind("broadcast_like", out, ans)


def _matmul_vjp(ct, primals, ans):
    x, y = primals
    if y.ndim == 2 and x.ndim > 2 and sum(d is None for d in x.shape) <= 1 and None not in y.shape:
        # a stack of matrices times one matrix (a readout applied at every step): y's cotangent
        # is one GEMM over the stacked rows, not a batch of products summed afterwards
        rows = [bind("reshape", a, shape=(-1, a.shape[-1])) for a in (x, ct)]
        return [bind("matmul", ct, swap_last(y)), bind("matmul", swap_last(rows[0]), rows[1])]
    return [unbroadcast(bind("matmul", ct, swap_last(y)), x), unbroadcast(bind("matmul", swap_last(x), ct), y)]


def packable_product(n) -> bool:
    """A float32 product of two matrices (``matmul``, or ``matmul_add``'s), whose right operand
    our GEMM may take packed: a scan packs such an operand before its loop when it is a weight
    (``_scan_emit``), and the product then reads the packed copy (codegen)."""
    return n.prim in ("matmul", "matmul_add") and n.dtype == "float32" and all(i.ndim == 2 for i in n.inputs)


def _matmul_emit(target, n, out, a, b, packed=None):
    x, y = n.inputs
    if target == "numpy":
        return [f"{out} = np.matmul({a}, {b})"]
    if target == "cuda":
        return [f"{out} = _cu.matmul({a}, {b})"]
    if packed:  # b was packed before the loop this product runs in (see ``_scan_emit``)
        return [f"{out} = _k.dot_packed({a}, {b}, {packed})"]
    if x.ndim == 2 and y.ndim == 2:
        return [f"{out} = _k.dot({a}, {b})"]
    if y.ndim == 2:  # a stack of matrices times one matrix: a single GEMM
        return [f"{out} = _k.dot(np.ascontiguousarray({a}).reshape((-1, {a}.shape[-1])), {b})"
                f".reshape({a}.shape[:-1] + ({b}.shape[-1],))"]
    batch_x, batch_y = x.shape[:-2], y.shape[:-2]
    if all(d == 1 for d in batch_x) or batch_x == batch_y:  # no broadcasting copies needed
        lead = f"{b}.shape[:-2]" if all(d == 1 for d in batch_x) and y.ndim >= n.ndim else f"{a}.shape[:-2]"
        return [f"{out} = _k.matmul_3d({_stack(a)}, {_stack(b)}).reshape({lead} + ({a}.shape[-2], {b}.shape[-1]))"]
    stack = "np.ascontiguousarray(np.broadcast_to({0}, {1}_b + {0}.shape[-2:])).reshape((-1,) + {0}.shape[-2:])"
    return [f"{out}_b = np.broadcast_shapes({a}.shape[:-2], {b}.shape[:-2])",
            f"{out} = _k.matmul_3d({stack.format(a, out)}, {stack.format(b, out)})"
            f".reshape({out}_b + ({a}.shape[-2], {b}.shape[-1]))"]


def _stack(a):
    """Code for ``a`` as a 3-D stack of matrices (leading dims flattened)."""
    return f"np.ascontiguousarray({a}).reshape((-1,) + {a}.shape[-2:])"


def _matmul_dims(n, dims):
    (x, y), (dx, dy) = n.inputs, dims
    batch = [None] * (n.ndim - 2)
    for src, d in ((x, dx), (y, dy)):  # a batch dim is known from an operand that is not broadcast
        for k in range(src.ndim - 2):
            p = n.ndim - src.ndim + k
            if src.shape[k] != 1 and batch[p] is None:
                batch[p] = d[k]
    return tuple(batch) + (dx[-2], dy[-1])


Primitive("matmul", _matmul_rule, lambda x, y: np.matmul(x, y), jvp=_matmul_jvp, vjp=_matmul_vjp,
          emit=_matmul_emit, dims=_matmul_dims, allocates=True)


# --- c + a @ b, one GEMM accumulating into c ------------------------------------------------------
# The compiler's cpu lowering turns ``add(c, matmul(a, b))`` into this (``passes.fuse_matmul_add``):
# a gradient accumulated over a loop (``dU += h^T dz`` at every step of an RNN's reverse scan) is
# one BLAS call with beta = 1 writing into the accumulator, instead of a product array and a pass
# adding it. Users never build it.
def _matmul_add_rule(c, a, b):
    if a.ndim != 2 or b.ndim != 2:
        raise GraphError(f"matmul_add: a and b must be matrices, got {a} and {b}")
    product = _matmul_rule(a, b)
    if c.shape != product.shape or c.dtype != product.dtype:
        raise GraphError(f"matmul_add: c is {c}, the product {product}: they must be equal (no broadcasting)")
    return product


def _matmul_add_jvp(primals, tangents, ans):
    tc, ta, tb = tangents
    product = _matmul_jvp(primals[1:], (ta, tb), ans) if ta is not None or tb is not None else None
    terms = [t for t in (tc, product) if t is not None]
    return None if not terms else terms[0] if len(terms) == 1 else bind("add", *terms)


def _matmul_add_vjp(ct, primals, ans):
    return [ct, *_matmul_vjp(ct, primals[1:], ans)]


def _matmul_add_emit(target, n, out, c, a, b, in_place=False, packed=None):
    if target == "numpy":
        return [f"{out} = {c} + np.matmul({a}, {b})"]
    if target == "cuda":
        return [f"{out} = _cu.matmul_add({c}, {a}, {b})"]
    call = f"_k.dot_add_packed({a}, {b}, {packed}, " if packed else f"_k.dot_add({a}, {b}, "
    return [f"{out} = {call}{c if in_place else f'{c}.copy()'})" + ("  # accumulates in place: c is dead" if in_place else "")]


Primitive("matmul_add", _matmul_add_rule, lambda c, a, b: c + np.matmul(a, b), jvp=_matmul_add_jvp,
          vjp=_matmul_add_vjp, emit=_matmul_add_emit, dims=lambda n, dims: dims[0], allocates=True, in_place=0)
