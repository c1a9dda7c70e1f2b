"""Finite differences: derivatives from function values alone, the baseline AD is measured against.

A difference quotient trades truncation error (the step is too large) against rounding error
(the step is too small). The default steps balance the two for a well-scaled function:
``cbrt(eps) * max(1, |x|)`` for central differences (error O(h^2)) and
``sqrt(eps) * max(1, |x|)`` for forward differences (error O(h)), eps of the input's dtype.

>>> import numpy as np
>>> from adjit.engine import numeric
>>> round(float(numeric.grad(np.sin, 0.0)), 8)
1.0
"""
from __future__ import annotations

import numpy as np

from .function import Function, trace
from .ir import GraphError, Node

METHODS = ("central", "forward")


def _evaluator(f, arrays):
    """A function of a list of arrays returning one array: ``f`` itself, or ``f`` traced when it
    builds adjit nodes (so callables written with ``adjit.ops`` work as well as numpy ones)."""
    if not isinstance(f, Function):
        if not callable(f):
            raise TypeError(f"numeric: expected a Function or a callable, got {type(f).__name__}")
        probe = f(*arrays)
        if not isinstance(probe, (Node, tuple, list)):
            return lambda xs: np.asarray(f(*xs))
        f = trace(f, *arrays)
    if len(f.outputs) != 1:
        raise GraphError(f"numeric: {f.name} has {len(f.outputs)} outputs; it needs exactly one")
    return lambda xs: np.asarray(f(*xs))


def step(x: np.ndarray, method: str = "central") -> np.ndarray:
    """The default step for each element of ``x`` (a float array).

    >>> bool(step(np.array(0.0)) == np.cbrt(np.finfo(np.float64).eps))
    True
    """
    eps = np.finfo(x.dtype).eps
    scale = np.cbrt(eps) if method == "central" else np.sqrt(eps)
    return scale * np.maximum(1.0, np.abs(x))


def _partials(call, arrays, k, method, h, base):
    """d out / d arrays[k], shape ``out.shape + x.shape``: one or two evaluations per element."""
    x = arrays[k]
    steps = step(x, method) if h is None else np.broadcast_to(np.asarray(h, x.dtype), x.shape)

    def at(j, sign):
        xj = x.copy()
        xj.flat[j] = x.flat[j] + sign * steps.flat[j]
        return xj, np.asarray(call(arrays[:k] + [xj] + arrays[k + 1:]), dtype=np.float64)

    cols = []
    for j in range(x.size):
        plus, high = at(j, 1)
        minus, low = at(j, -1) if method == "central" else (x, base)
        # Divide by the step actually taken, (x + h) - x, which rounding may have changed.
        with np.errstate(all="ignore"):  # inf - inf at overflow is an answer (NaN), not an error
            cols.append((high - low) / (float(plus.flat[j]) - float(minus.flat[j])))
    if not cols:
        return np.zeros(base.shape + x.shape)
    return np.stack(cols, axis=-1).reshape(base.shape + x.shape)


def _jacobians(f, args, method, h):
    if method not in METHODS:
        raise ValueError(f"numeric: method must be 'central' or 'forward', got {method!r}")
    arrays = [np.asarray(a) for a in args]
    call = _evaluator(f, arrays)
    idx = [k for k, a in enumerate(arrays) if a.dtype.kind == "f"]
    if not idx:
        raise GraphError("numeric: no float input to differentiate")
    base = np.asarray(call(arrays), dtype=np.float64)
    return base.shape, [_partials(call, arrays, k, method, h, base) for k in idx]


def jacobian(f, *args, method="central", h=None):
    """The Jacobian of the single output of ``f`` by finite differences: for each float input x,
    an array of shape ``out.shape + x.shape`` (one array when there is one float input, else a
    tuple, as ``engine.jacobian``). Integer and bool inputs are held fixed. ``h`` overrides the
    default step with one absolute step.

    >>> import numpy as np
    >>> J = jacobian(lambda v: v * v, np.array([1.0, 2.0]))
    >>> np.round(J, 6).tolist()
    [[2.0, 0.0], [0.0, 4.0]]
    """
    _, jacs = _jacobians(f, args, method, h)
    return jacs[0] if len(jacs) == 1 else tuple(jacs)


def grad(f, *args, method="central", h=None):
    """The gradient of a scalar ``f`` by finite differences, one array per float input (a tuple
    when there are several, as ``engine.grad``).

    >>> import adjit
    >>> g = grad(lambda x, y: adjit.ops.log(x) + x * y, 2.0, 5.0)
    >>> [round(float(v), 6) for v in g]
    [5.5, 2.0]
    """
    out_shape, jacs = _jacobians(f, args, method, h)
    if out_shape != ():
        raise GraphError(f"numeric.grad: the output has shape {out_shape}; it must be a scalar "
                         "(reduce it, or use numeric.jacobian)")
    return jacs[0] if len(jacs) == 1 else tuple(jacs)
