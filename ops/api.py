"""The functions users call to build graphs (``ops.exp(x)``, ``ops.sum(x, axis=0)``, ...).

They accept nodes, numpy arrays and Python numbers, apply numpy's dtype promotion (Python numbers
are weakly typed: ``x32 * 2.0`` stays float32) and bind the primitives.
"""
from __future__ import annotations

import numpy as np

from ..engine.ir import FUNCTIONS, GraphError, Node, format_shape, as_node, const, is_float, user_origin
from ..engine.primitive import bind
from .rules import check_axes


def _error(message: str) -> GraphError:
    """A GraphError for a mistake caught before ``bind``: it names the user's file:line too."""
    return GraphError(f"{message} (at {user_origin()})")


def _strong_dtype(x):
    if isinstance(x, Node):
        return x.dtype
    if isinstance(x, np.ndarray):
        return const(x).dtype
    return None


def promote(*xs, to_float=False):
    """Nodes of one common dtype for ``xs`` (numpy promotion; Python scalars are weak)."""
    strong = [d for d in map(_strong_dtype, xs) if d is not None]
    if strong:
        dtype = np.result_type(*strong).name
        if any(isinstance(x, float) for x in xs) and not is_float(dtype):
            dtype = "float64"
    else:
        dtype = np.result_type(*[np.asarray(x).dtype for x in xs]).name
        dtype = "int64" if dtype.startswith(("int", "uint")) else dtype
    if to_float and not is_float(dtype):
        dtype = "float64"
    return [convert(as_node(x, dtype), dtype) for x in xs]


def convert(x, dtype) -> Node:
    """``x`` as ``dtype`` (no node is made when it already is)."""
    x = as_node(x)
    return x if x.dtype == np.dtype(dtype).name else bind("convert", x, dtype=np.dtype(dtype).name)


def _binary(name, to_float=False):
    def op(x, y):
        return bind(name, *promote(x, y, to_float=to_float))
    op.__name__ = name
    op.__doc__ = f"Elementwise {name} with numpy broadcasting."
    return op


def _unary(name):
    def op(x):
        return bind(name, *promote(x, to_float=True))
    op.__name__ = name
    op.__doc__ = f"Elementwise {name}."
    return op


add, sub, mul, maximum, minimum = map(_binary, ("add", "sub", "mul", "maximum", "minimum"))
div = _binary("div", to_float=True)
less, less_equal, greater, greater_equal, equal, not_equal = map(
    _binary, ("less", "less_equal", "greater", "greater_equal", "equal", "not_equal"))
exp, log, log1p, sin, cos, tan, tanh, sigmoid, relu, sqrt, sign = map(
    _unary, ("exp", "log", "log1p", "sin", "cos", "tan", "tanh", "sigmoid", "relu", "sqrt", "sign"))


def pow(x, y):
    """``x ** y`` elementwise; integer ** integer stays integer as in numpy."""
    return bind("pow", *promote(x, y))


def neg(x):
    return bind("neg", as_node(x))


def abs(x):
    """|x|, with abs'(0) = 0."""
    return bind("abs", *promote(x, to_float=True))


def where(cond, x, y):
    """``x`` where ``cond`` else ``y``. Its derivative never lets the unselected branch turn the
    gradient into NaN: ``grad(where(x > 0, log(x), 0))`` at 0 is 0, not NaN."""
    cond = as_node(cond)
    if cond.dtype != "bool":
        raise _error(f"where: the condition must be bool, got {cond.dtype}")
    return bind("where", cond, *promote(x, y))


def logical_not(x):
    return bind("logical_not", as_node(x))


def stop_gradient(x):
    """``x``, with a zero derivative: the value passes, the gradient does not."""
    return bind("stop_gradient", as_node(x))


def zeros_like(x):
    return bind("zeros_like", as_node(x))


def ones_like(x):
    return bind("ones_like", as_node(x))


# --- reductions -----------------------------------------------------------------------------------
def sum(x, axis=None, keepdims=False):
    """Sum over ``axis`` (an int, a tuple, or None for all)."""
    x = as_node(x)
    if x.dtype == "bool":
        x = convert(x, "int64")
    return bind("reduce_sum", x, axes=check_axes("sum", axis, x.ndim), keepdims=bool(keepdims))


def mean(x, axis=None, keepdims=False):
    x = as_node(x)
    if not is_float(x.dtype):
        x = convert(x, "float64")
    axes = check_axes("mean", axis, x.ndim)
    return div(sum(x, axes, keepdims), bind("dim_size", x, axes=axes, dtype=x.dtype))


def max(x, axis=None, keepdims=False):
    """Maximum over ``axis``; its derivative goes to one winner, the first maximum in C order."""
    x = as_node(x)
    return bind("reduce_max", x, axes=check_axes("max", axis, x.ndim), keepdims=bool(keepdims))


def _shift(x, axis):
    """The stop-gradient maximum over ``axis`` (kept dims), 0 where it is not finite."""
    m = stop_gradient(max(x, axis, keepdims=True))
    return where(less(abs(m), np.inf), m, zeros_like(m))


def logsumexp(x, axis=None, keepdims=False):
    """log(sum(exp(x))) computed stably (shifted by the maximum)."""
    x = promote(x, to_float=True)[0]
    axes = check_axes("logsumexp", axis, x.ndim)
    m = _shift(x, axes)
    out = add(log(sum(exp(sub(x, m)), axes, keepdims=True)), m)
    return out if keepdims else squeeze(out, axes)


def log_softmax(x, axis=-1):
    x = promote(x, to_float=True)[0]
    axes = check_axes("log_softmax", axis, x.ndim)
    shifted = sub(x, _shift(x, axes))
    return sub(shifted, log(sum(exp(shifted), axes, keepdims=True)))


def softmax(x, axis=-1):
    x = promote(x, to_float=True)[0]
    axes = check_axes("softmax", axis, x.ndim)
    e = exp(sub(x, _shift(x, axes)))
    return div(e, sum(e, axes, keepdims=True))


# --- shapes ---------------------------------------------------------------------------------------
def reshape(x, shape):
    """numpy reshape; one dim may be -1 (or None)."""
    x = as_node(x)
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(-1 if d is None else int(d) for d in shape)
    return bind("reshape", x, shape=shape)


def transpose(x, axes=None):
    x = as_node(x)
    perm = tuple(reversed(range(x.ndim))) if axes is None else tuple(int(a) % x.ndim for a in axes)
    return bind("transpose", x, perm=perm)


def swapaxes(x, a, b):
    x = as_node(x)
    perm = list(range(x.ndim))
    perm[a], perm[b] = perm[b], perm[a]
    return transpose(x, perm)


def broadcast_to(x, shape):
    return bind("broadcast_to", as_node(x), shape=tuple(int(d) for d in shape))


def expand_dims(x, axis):
    x = as_node(x)
    return bind("expand_dims", x, axes=check_axes("expand_dims", axis, x.ndim + (1 if isinstance(axis, int) else len(axis))))


def squeeze(x, axis=None):
    x = as_node(x)
    if axis is None:
        axes = tuple(k for k, d in enumerate(x.shape) if d == 1)
    else:
        axes = check_axes("squeeze", axis, x.ndim)
    return bind("squeeze", x, axes=axes) if axes else x


def concatenate(xs, axis=0):
    if not xs:
        raise _error("concatenate: needs at least one array")
    xs = promote(*xs)
    axis = check_axes("concatenate", axis, xs[0].ndim)[0]
    return bind("concatenate", *xs, axis=axis)


def stack(xs, axis=0):
    xs = [as_node(x) for x in xs]
    return concatenate([expand_dims(x, axis) for x in xs], axis)


def take(x, indices):
    """Gather rows: ``x[indices]`` along axis 0 with an integer array (numpy semantics)."""
    idx = as_node(np.asarray(indices) if not isinstance(indices, Node) else indices)
    return bind("take", as_node(x), idx)


def getitem(x, index):
    """numpy indexing: ints, slices, ``...`` and ``None``; or one integer array (``take``)."""
    x = as_node(x)
    if not isinstance(index, tuple):
        index = (index,)
    if len(index) == 1 and isinstance(index[0], (Node, np.ndarray, list)):
        return take(x, index[0])
    if [i is Ellipsis for i in index].count(True) > 1:  # (`sum` here is ops.sum)
        raise _error("getitem: more than one '...'")
    n_real = len([i for i in index if i is not None and i is not Ellipsis])
    if n_real > x.ndim:
        raise _error(f"getitem: {n_real} indices for an array of rank {x.ndim}")
    if Ellipsis in index:
        k = index.index(Ellipsis)
        index = index[:k] + (slice(None),) * (x.ndim - n_real) + index[k + 1:]
    entries, new_axes, out_pos = [], [], 0
    for i in index:
        if i is None:
            new_axes.append(out_pos)
            out_pos += 1
        elif isinstance(i, slice):
            parts = [i.start, i.stop, i.step]
            if not all(p is None or isinstance(p, (int, np.integer)) for p in parts):
                raise _error(f"getitem: slice bounds must be ints, got {i}")
            entries.append(("s", *[None if p is None else int(p) for p in parts]))
            out_pos += 1
        elif isinstance(i, (int, np.integer)) and not isinstance(i, bool):
            entries.append(("i", int(i)))
        else:
            raise _error(f"getitem: unsupported index {i!r} (ints, slices, ..., None or one int array)")
    out = bind("getitem", x, index=tuple(entries)) if entries else x
    return bind("expand_dims", out, axes=tuple(new_axes)) if new_axes else out


def matmul(x, y):
    """numpy matmul: batched over leading dims; a 1-D operand is a vector."""
    x, y = promote(x, y)
    if x.ndim == 0 or y.ndim == 0:
        raise _error(f"matmul: scalar operand ({x.aval} @ {y.aval}); use *")
    vx, vy = x.ndim == 1, y.ndim == 1
    k1, k2 = x.shape[-1], y.shape[0 if vy else -2]
    if (vx or vy) and k1 is not None and k2 is not None and k1 != k2:  # name the user's shapes
        raise _error(f"matmul: shapes {format_shape(x.shape)} and {format_shape(y.shape)} do not align ({k1} != {k2})")
    if vx:
        x = bind("expand_dims", x, axes=(0,))
    if vy:
        y = bind("expand_dims", y, axes=(1,))
    out = bind("matmul", x, y)
    drop = ((out.ndim - 2,) if vx else ()) + ((out.ndim - 1,) if vy else ())
    return bind("squeeze", out, axes=drop) if drop else out


dot = matmul

FUNCTIONS.update({
    "add": add, "sub": sub, "mul": mul, "div": div, "pow": pow, "neg": neg, "abs": abs,
    "matmul": matmul, "less": less, "less_equal": less_equal, "greater": greater,
    "greater_equal": greater_equal, "equal": equal, "not_equal": not_equal, "getitem": getitem,
    "transpose": transpose, "reshape": reshape, "sum": sum, "mean": mean, "max": max,
    "convert": convert, "zeros_like": zeros_like, "where": where, "concatenate": concatenate,
})
