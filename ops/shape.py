"""Shape and indexing primitives: linear maps, so each VJP is the transposed map."""
from __future__ import annotations

import numpy as np

from ..engine.ir import Aval, GraphError, format_shape, broadcast_shapes
from ..engine.primitive import Primitive, bind
from . import kernels
from .rules import unbroadcast


def _static(shape) -> bool:
    return all(d is not None for d in shape)


def runtime_shape(a: str, shape, inserted=()) -> str:
    """Code for a shape tuple whose dynamic dims are read from array ``a``'s own dims, in order."""
    dims, k = [], 0
    for pos, d in enumerate(shape):
        if pos in inserted:
            dims.append("1")
            continue
        dims.append(str(d) if d is not None else f"{a}.shape[{k}]")
        k += 1
    return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"


# --- reshape -------------------------------------------------------------------------------------
def _reshape_rule(x, shape):
    if list(shape).count(-1) > 1:
        raise GraphError(f"reshape: more than one -1 in {shape}")
    if _static(x.shape):
        size = int(np.prod(x.shape, dtype=np.int64))
        known = int(np.prod([d for d in shape if d != -1], dtype=np.int64))
        if (-1 in shape and (known == 0 or size % known)) or (-1 not in shape and known != size):
            raise GraphError(f"reshape: cannot reshape {format_shape(x.shape)} into {format_shape(shape)}")
        return Aval(tuple(size // known if d == -1 else d for d in shape), x.dtype)
    return Aval(tuple(None if d == -1 else d for d in shape), x.dtype)


def _reshape_back(ct, x):
    if sum(d is None for d in x.shape) > 1:
        raise GraphError(f"reshape: the derivative needs at most one dynamic dim, input is {x.aval}")
    return bind("reshape", ct, shape=tuple(-1 if d is None else d for d in x.shape))


def _shape_code(shape):
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


Primitive("reshape", _reshape_rule, lambda x, shape: np.reshape(x, shape),
          jvp=lambda p, t, ans, shape: bind("reshape", t[0], shape=shape),
          vjp=lambda ct, p, ans, shape: [_reshape_back(ct, p[0])],
          emit=lambda target, n, out, a: [
              f"{out} = np.reshape({a}, {_shape_code(n.params['shape'])})" if target == "numpy" else
              f"{out} = _cu.reshape({a}, {_shape_code(n.params['shape'])})" if target == "cuda" else
              f"{out} = np.ascontiguousarray({a}).reshape({_shape_code(n.params['shape'])})"])


# --- transpose -----------------------------------------------------------------------------------
def _transpose_rule(x, perm):
    if sorted(perm) != list(range(x.ndim)):
        raise GraphError(f"transpose: {perm} is not a permutation of the {x.ndim} axes of {x}")
    return Aval(tuple(x.shape[k] for k in perm), x.dtype)


def _inverse(perm):
    return tuple(int(i) for i in np.argsort(perm))


Primitive("transpose", _transpose_rule, lambda x, perm: np.transpose(x, perm),
          jvp=lambda p, t, ans, perm: bind("transpose", t[0], perm=perm),
          vjp=lambda ct, p, ans, perm: [bind("transpose", ct, perm=_inverse(perm))],
          dims=lambda n, d: tuple(d[0][k] for k in n.params["perm"]),
          emit=lambda target, n, out, a: [f"{out} = _cu.transpose({a}, {n.params['perm']})" if target == "cuda" else
                                          f"{out} = {a}.T" if n.params["perm"] == (1, 0) else
                                          f"{out} = np.transpose({a}, {n.params['perm']})" if target == "numpy" else
                                          f"{out} = _k.transpose({a}, {n.params['perm']})"])


# --- broadcast_to (static target shape) ----------------------------------------------------------
def _broadcast_to_rule(x, shape):
    out = broadcast_shapes("broadcast_to", x.shape, shape)
    if out != tuple(shape):
        raise GraphError(f"broadcast_to: cannot broadcast {format_shape(x.shape)} to {format_shape(shape)}")
    return Aval(tuple(shape), x.dtype)


Primitive("broadcast_to", _broadcast_to_rule, lambda x, shape: np.broadcast_to(x, shape).copy(),
          jvp=lambda p, t, ans, shape: bind("broadcast_to", t[0], shape=shape),
          vjp=lambda ct, p, ans, shape: [unbroadcast(ct, p[0])],
          emit=lambda target, n, out, a: [f"{out} = {'_cu' if target == 'cuda' else 'np'}.broadcast_to({a}, "
                                          f"{_shape_code(n.params['shape'])})"])


# --- expand_dims / squeeze -----------------------------------------------------------------------
def _expand_rule(x, axes):
    ndim = x.ndim + len(axes)
    if any(not 0 <= a < ndim for a in axes):
        raise GraphError(f"expand_dims: axes {axes} out of range for an output of rank {ndim}")
    dims = iter(x.shape)
    return Aval(tuple(1 if k in axes else next(dims) for k in range(ndim)), x.dtype)


def _squeeze_rule(x, axes):
    for a in axes:
        if not 0 <= a < x.ndim or x.shape[a] not in (1, None):
            raise GraphError(f"squeeze: axis {a} of {x} is not of size 1")
    return Aval(tuple(d for k, d in enumerate(x.shape) if k not in axes), x.dtype)


def _expand_emit(target, n, out, a):
    if target == "numpy":
        return [f"{out} = np.expand_dims({a}, {n.params['axes']})"]
    shape = runtime_shape(a, n.shape, inserted=n.params["axes"])
    if target == "cuda":
        return [f"{out} = _cu.reshape({a}, {shape})"]
    return [f"{out} = np.ascontiguousarray({a}).reshape({shape})"]


def _squeeze_emit(target, n, out, a):
    if target == "numpy":
        return [f"{out} = np.squeeze({a}, {n.params['axes']})"]
    kept = [k for k in range(n.inputs[0].ndim) if k not in n.params["axes"]]
    dims = [f"{a}.shape[{k}]" for k in kept]
    shape = f"({', '.join(dims)}{',' if len(dims) == 1 else ''})"
    if target == "cuda":
        return [f"{out} = _cu.reshape({a}, {shape})"]
    return [f"{out} = np.ascontiguousarray({a}).reshape({shape})"]


Primitive("expand_dims", _expand_rule, lambda x, axes: np.expand_dims(x, axes),
          jvp=lambda p, t, ans, axes: bind("expand_dims", t[0], axes=axes),
          vjp=lambda ct, p, ans, axes: [bind("squeeze", ct, axes=axes)], emit=_expand_emit,
          dims=lambda n, d: _expanded_dims(d[0], n.params["axes"]))
Primitive("squeeze", _squeeze_rule, lambda x, axes: np.squeeze(x, axes),
          jvp=lambda p, t, ans, axes: bind("squeeze", t[0], axes=axes),
          vjp=lambda ct, p, ans, axes: [bind("expand_dims", ct, axes=axes)], emit=_squeeze_emit,
          dims=lambda n, d: tuple(e for k, e in enumerate(d[0]) if k not in n.params["axes"]))


def _expanded_dims(dims, axes):
    it = iter(dims)
    return tuple("1" if k in axes else next(it) for k in range(len(dims) + len(axes)))


# --- concatenate ---------------------------------------------------------------------------------
def _concat_rule(*xs, axis):
    first = xs[0]
    for x in xs[1:]:
        if x.ndim != first.ndim or x.dtype != first.dtype or any(
                k != axis and a is not None and b is not None and a != b
                for k, (a, b) in enumerate(zip(x.shape, first.shape))):
            raise GraphError(f"concatenate: {first} and {x} do not match outside axis {axis}")
    sizes = [x.shape[axis] for x in xs]
    total = None if None in sizes else sum(sizes)
    return Aval(first.shape[:axis] + (total,) + first.shape[axis + 1:], first.dtype)


def _concat_vjp(ct, primals, ans, axis):
    cts, start = [], 0
    for x in primals:
        if x.shape[axis] is None:
            raise GraphError(f"concatenate: the derivative needs a static size along axis {axis}")
        index = tuple(("s", None, None, None) if k != axis else ("s", start, start + x.shape[axis], None)
                      for k in range(x.ndim))
        cts.append(bind("getitem", ct, index=index))
        start += x.shape[axis]
    return cts


def _concat_jvp(primals, tangents, ans, axis):
    ts = [t if t is not None else bind("zeros_like", x) for x, t in zip(primals, tangents)]
    return bind("concatenate", *ts, axis=axis)


Primitive("concatenate", _concat_rule, lambda *xs, axis: np.concatenate(xs, axis=axis),
          jvp=_concat_jvp, vjp=_concat_vjp, allocates=True,
          emit=lambda target, n, out, *args: [f"{out} = {'_cu' if target == 'cuda' else 'np'}.concatenate(("
                                              f"{', '.join(args)},), axis={n.params['axis']})"])


# --- basic indexing: ints and slices -------------------------------------------------------------
def index_code(index) -> str:
    parts = []
    for entry in index:
        if entry[0] == "i":
            parts.append(str(entry[1]))
        else:
            _, start, stop, step = entry
            parts.append(("" if start is None else str(start)) + ":" + ("" if stop is None else str(stop))
                         + ("" if step is None else f":{step}"))
    return ", ".join(parts) + ("," if len(parts) == 1 else "")


def _getitem_rule(x, index):
    if len(index) > x.ndim:
        raise GraphError(f"getitem: {len(index)} indices for an array of rank {x.ndim}")
    shape = []
    for entry, d in zip(index, x.shape):
        if entry[0] == "i":
            if d is not None and not -d <= entry[1] < d:
                raise GraphError(f"getitem: index {entry[1]} is out of range for a dim of size {d}")
            continue
        _, start, stop, step = entry
        if step == 0:
            raise GraphError("getitem: slice step cannot be zero")
        if d is not None:
            shape.append(len(range(*slice(start, stop, step).indices(d))))
        else:
            shape.append(None)
    return Aval(tuple(shape) + x.shape[len(index):], x.dtype)


def _as_slice(entry):
    return entry[1] if entry[0] == "i" else slice(*entry[1:])


def _getitem_impl(x, index):
    return x[tuple(_as_slice(e) for e in index)]


def _getitem_grad_impl(ct, like, index):
    out = np.zeros_like(like)
    out[tuple(_as_slice(e) for e in index)] = ct
    return out


def _getitem_emit(target, n, out, a):
    if target == "cuda":  # the index's entries as they are: ("i", k) or ("s", start, stop, step)
        return [f"{out} = _cu.getitem({a}, {n.params['index']!r})"]
    return [f"{out} = {a}[{index_code(n.params['index'])}]"]


def _getitem_grad_emit(target, n, out, ct, like):
    if target == "cuda":
        return [f"{out} = _cu.getitem_grad({ct}, {like}, {n.params['index']!r})"]
    index = index_code(n.params["index"])
    if target == "numpy" or n.inputs[0].ndim == 0:  # a scalar element: a cheap assignment
        return [f"{out} = np.zeros_like({like})", f"{out}[{index}] = {ct}"]
    return [f"{out} = np.zeros_like({like})", f"_k.assign({out}[{index}], {ct})"]


Primitive("getitem", _getitem_rule, _getitem_impl,
          jvp=lambda p, t, ans, index: bind("getitem", t[0], index=index),
          vjp=lambda ct, p, ans, index: [bind("getitem_grad", ct, p[0], index=index)], emit=_getitem_emit)
Primitive("getitem_grad", lambda ct, like, index: Aval(like.shape, like.dtype), _getitem_grad_impl,
          jvp=lambda p, t, ans, index: None if t[0] is None else bind("getitem_grad", t[0], p[1], index=index),
          vjp=lambda ct, p, ans, index: [bind("getitem", ct, index=index), None],
          dims=lambda n, d: d[1], allocates=True, emit=_getitem_grad_emit)


# --- gather along axis 0 with an integer array ---------------------------------------------------
def _take_rule(x, idx):
    if idx.dtype not in ("int32", "int64"):
        raise GraphError(f"take: indices must be integers, got {idx.dtype}")
    if x.ndim == 0:
        raise GraphError("take: cannot index a scalar")
    return Aval(idx.shape + x.shape[1:], x.dtype)


def _take_emit(target, n, out, x, idx):
    if target == "numpy":
        return [f"{out} = {x}[{idx}]"]
    if target == "cuda":
        return [f"{out} = _cu.take({x}, {idx}, {n.inputs[1].ndim})"]
    return [f"{out} = _k.take_2d(np.ascontiguousarray({x}).reshape(({x}.shape[0], -1)), "
            f"np.ascontiguousarray({idx}).reshape(-1)).reshape({idx}.shape + {x}.shape[1:])"]


def _take_grad_emit(target, n, out, ct, idx, like):
    if target == "numpy":
        return [f"{out} = _k.take_grad({ct}, {idx}, {like})"]
    if target == "cuda":
        return [f"{out} = _cu.take_grad({ct}, {idx}, {like})"]
    return [f"{out} = _k.take_grad_2d(np.ascontiguousarray({ct}).reshape(({idx}.size, -1)), "
            f"np.ascontiguousarray({idx}).reshape(-1), {like}.shape[0]).reshape({like}.shape)"]


Primitive("take", _take_rule, lambda x, idx: x[idx],
          jvp=lambda p, t, ans: bind("take", t[0], p[1]),
          vjp=lambda ct, p, ans: [bind("take_grad", ct, p[1], p[0]), None], emit=_take_emit,
          dims=lambda n, d: d[1] + d[0][1:], allocates=True)
Primitive("take_grad", lambda ct, idx, like: Aval(like.shape, like.dtype),
          kernels.take_grad,
          jvp=lambda p, t, ans: None if t[0] is None else bind("take_grad", t[0], p[1], p[2]),
          vjp=lambda ct, p, ans: [bind("take", ct, p[1]), None, None], emit=_take_grad_emit,
          dims=lambda n, d: d[2], allocates=True)
