"""Counter-based random numbers: a pure function of a key, so a compiled step that drops out
units is still a function of its inputs (the key is one of them), as in JAX.

``uniform(key, like)``: numbers in [0, 1) shaped like ``like``; element k (C order) is the
splitmix64 hash of (key, k). ``kernels.uniform_ref`` (numpy) and ``kernels.uniform_like``
(numba) compute the same bits.
"""
from __future__ import annotations

from ..engine.ir import Aval, GraphError, as_node, is_float
from ..engine.primitive import Primitive, bind
from . import kernels


def _uniform_rule(key, like):
    if key.ndim != 0 or key.dtype not in ("int32", "int64"):
        raise GraphError(f"uniform: the key must be an integer scalar, got {key}")
    if not is_float(like.dtype):
        raise GraphError(f"uniform: `like` must be a float array (its shape and dtype are used), got {like}")
    return Aval(like.shape, like.dtype)


def _uniform_emit(target, n, out, key, like):
    if target == "numpy":
        return [f"{out} = _k.uniform_ref({key}, {like})"]
    if target == "cuda":
        return [f"{out} = _cu.uniform({key}, {like})"]
    return [f"{out} = _k.uniform_like({key}, {like})"]


Primitive("uniform", _uniform_rule, kernels.uniform_ref, emit=_uniform_emit,
          dims=lambda n, d: d[1], allocates=True, differentiable=False)


def uniform(key, like):
    """Uniform random numbers in [0, 1) with the shape and dtype of ``like``, a pure function
    of the integer ``key``: the same key gives the same numbers on every target.

    >>> import numpy as np
    >>> from adjit import engine, ops
    >>> f = engine.trace(lambda key, x: ops.uniform(key, x), 7, np.zeros(3))
    >>> bool(np.all((f(7, np.zeros(3)) >= 0) & (f(7, np.zeros(3)) < 1)))
    True
    """
    key = as_node(key)
    if key.dtype == "int32":
        key = bind("convert", key, dtype="int64")
    return bind("uniform", key, as_node(like))
