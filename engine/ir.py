"""The IR: immutable typed tensor nodes.

Glossary used across adjit:
  aval    the abstract value of a node: its shape and dtype, no data.
  prim    a primitive operation, declared once in the registry (see ``primitive.py``).
  params  a primitive's static attributes (axes, shapes, ...), part of a node's identity.
  ans     the output node of the primitive application a rule is differentiating.
  t, dot  a tangent (forward mode); ``ct``/``bar`` a cotangent (reverse mode).
  None    used as a tangent or cotangent it means a symbolic zero: no work is built for it.
  results a multi-result node (a scan) has a ``TupleAval``; it is read only through
          ``result[index=k]`` nodes, and its tangent or cotangent is a tuple (None for zeros).

A ``Node`` never changes after it is made. Graphs are built by applying primitives to nodes
(``primitive.bind``); Python operators on nodes do that for you.
"""
from __future__ import annotations

import itertools
import os
import sys
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

DTYPES = ("float32", "float64", "int32", "int64", "bool")
FLOAT_DTYPES = ("float32", "float64")
SHORT = {"float32": "f32", "float64": "f64", "int32": "i32", "int64": "i64", "bool": "bool"}


class GraphError(ValueError):
    """A mistake in how a graph was built: the message names the op, the shapes and the place."""


def canonical_dtype(dtype) -> str:
    """The name of a supported dtype, or a one-line error."""
    try:
        name = np.dtype(dtype).name
    except TypeError:
        name = None
    if name not in DTYPES:
        raise TypeError(f"unsupported dtype {dtype!r}: adjit supports {', '.join(DTYPES)}")
    return name


def is_float(dtype: str) -> bool:
    return dtype in FLOAT_DTYPES


@dataclass(frozen=True)
class Aval:
    """Shape and dtype. A dimension may be None: dynamic, known only when the function runs."""

    shape: tuple
    dtype: str

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __str__(self) -> str:
        dims = ",".join("?" if d is None else str(d) for d in self.shape)
        return f"{SHORT[self.dtype]}[{dims}]"


@dataclass(frozen=True)
class TupleAval:
    """The abstract values of a multi-result node, one per result (no shape or dtype of its own)."""

    avals: tuple

    def __iter__(self):
        return iter(self.avals)

    def __len__(self) -> int:
        return len(self.avals)

    def __getitem__(self, k) -> Aval:
        return self.avals[k]

    def __str__(self) -> str:
        return "(" + ", ".join(map(str, self.avals)) + ")"


def broadcast_shapes(op: str, *shapes) -> tuple:
    """numpy broadcasting over static and dynamic (None) dimensions."""
    ndim = max(len(s) for s in shapes)
    out = []
    for k in range(ndim):
        dims = [s[k - ndim + len(s)] for s in shapes if k - ndim + len(s) >= 0]
        known = {d for d in dims if d is not None and d != 1}
        if len(known) > 1:
            raise GraphError(f"{op}: shapes {' and '.join(map(format_shape, shapes))} cannot be broadcast")
        if known:
            out.append(known.pop())
        elif None in dims:
            out.append(None)
        else:
            out.append(1)
    return tuple(out)


def format_shape(shape) -> str:
    return "(" + ", ".join("?" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_INTERNAL = tuple(os.path.join(_ROOT, d) + os.sep for d in ("engine", "ops", "compiler", "nn")) + (
    *(os.path.join(_ROOT, m) for m in ("cli.py", "demo.py", "expression.py", "__init__.py", "__main__.py")),)


def user_origin() -> str:
    """'file:line' of the innermost frame outside adjit's library code: where the user made a node."""
    frame = sys._getframe(1)
    while frame is not None:
        filename = os.path.abspath(frame.f_code.co_filename)
        if not filename.startswith(_INTERNAL):
            return f"{os.path.basename(filename)}:{frame.f_lineno}"
        frame = frame.f_back
    return "<adjit>"


_ids = itertools.count()


class Node:
    """One application of a primitive: ``prim(*inputs, **params)`` with abstract value ``aval``.

    Variables (``prim == "var"``) and constants (``prim == "const"``) are leaves. Nodes compare
    by identity inside adjit; the Python comparison operators build graph nodes instead.
    """

    __slots__ = ("prim", "inputs", "params", "aval", "origin", "id", "__weakref__")
    __array_priority__ = 1000  # so `ndarray + node` defers to Node.__radd__

    def __init__(self, prim, inputs, params, aval, origin=None):
        object.__setattr__(self, "prim", prim)
        object.__setattr__(self, "inputs", tuple(inputs))
        object.__setattr__(self, "params", MappingProxyType(dict(params)))  # read-only view
        object.__setattr__(self, "aval", aval)
        object.__setattr__(self, "origin", origin or user_origin())
        object.__setattr__(self, "id", next(_ids))

    def __setattr__(self, name, value):
        raise AttributeError("graph nodes are immutable")

    @property
    def shape(self) -> tuple:
        return self.aval.shape

    @property
    def dtype(self) -> str:
        return self.aval.dtype

    @property
    def ndim(self) -> int:
        return self.aval.ndim

    @property
    def multiple(self) -> bool:
        """Whether this node has several results (a ``TupleAval``), read by ``result`` nodes."""
        return isinstance(self.aval, TupleAval)

    @property
    def name(self):
        """The variable name of an input node, else None."""
        return self.params.get("name") if self.prim == "var" else None

    def __repr__(self) -> str:
        what = f"var {self.name!r}" if self.prim == "var" else self.prim
        return f"<Node {what} {self.aval} from {self.origin}>"

    def __bool__(self):
        raise GraphError(
            f"a graph node ({self.prim} made at {self.origin}) has no truth value while the graph "
            "is built; use ops.where for data-dependent choices"
        )

    __hash__ = object.__hash__

    def __len__(self):
        if not self.shape or self.shape[0] is None:
            raise TypeError(f"len() of a node with shape {format_shape(self.shape)}")
        return self.shape[0]

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    # Operators: looked up by name among the functions ops registers (engine never imports ops).
    def __add__(self, other): return _fn("add")(self, other)
    def __radd__(self, other): return _fn("add")(other, self)
    def __sub__(self, other): return _fn("sub")(self, other)
    def __rsub__(self, other): return _fn("sub")(other, self)
    def __mul__(self, other): return _fn("mul")(self, other)
    def __rmul__(self, other): return _fn("mul")(other, self)
    def __truediv__(self, other): return _fn("div")(self, other)
    def __rtruediv__(self, other): return _fn("div")(other, self)
    def __pow__(self, other): return _fn("pow")(self, other)
    def __rpow__(self, other): return _fn("pow")(other, self)
    def __matmul__(self, other): return _fn("matmul")(self, other)
    def __rmatmul__(self, other): return _fn("matmul")(other, self)
    def __neg__(self): return _fn("neg")(self)
    def __pos__(self): return self
    def __abs__(self): return _fn("abs")(self)
    def __lt__(self, other): return _fn("less")(self, other)
    def __le__(self, other): return _fn("less_equal")(self, other)
    def __gt__(self, other): return _fn("greater")(self, other)
    def __ge__(self, other): return _fn("greater_equal")(self, other)
    def __eq__(self, other): return _fn("equal")(self, other)
    def __ne__(self, other): return _fn("not_equal")(self, other)
    def __getitem__(self, index): return _fn("getitem")(self, index)

    @property
    def T(self):
        return _fn("transpose")(self)

    def reshape(self, *shape):
        return _fn("reshape")(self, shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape)

    def sum(self, axis=None, keepdims=False): return _fn("sum")(self, axis, keepdims)
    def mean(self, axis=None, keepdims=False): return _fn("mean")(self, axis, keepdims)
    def max(self, axis=None, keepdims=False): return _fn("max")(self, axis, keepdims)
    def astype(self, dtype): return _fn("convert")(self, dtype)


# Front-end functions that operators need (add, getitem, ...), registered by the ops package.
FUNCTIONS: dict = {}


def _fn(name):
    try:
        return FUNCTIONS[name]
    except KeyError:
        raise RuntimeError(f"operator needs ops.{name}: import adjit (not adjit.engine alone)") from None


def var(name: str, shape=(), dtype="float64") -> Node:
    """An input placeholder. ``shape`` may contain None for a dimension known only at call time.

    >>> x = var("x", (None, 3), "float32")
    """
    if not isinstance(name, str) or not name:
        raise GraphError(f"var: the name must be a non-empty string, got {name!r}")
    if isinstance(shape, int):
        shape = (shape,)
    shape = tuple(shape)
    for d in shape:
        if d is not None and (not isinstance(d, (int, np.integer)) or d < 0):
            raise GraphError(f"var {name!r}: bad dimension {d!r} in shape {shape}")
    shape = tuple(None if d is None else int(d) for d in shape)
    return Node("var", (), {"name": name}, Aval(shape, canonical_dtype(dtype)))


def const(value, dtype=None) -> Node:
    """A constant node holding a numpy array (copied, read-only)."""
    arr = np.array(value, dtype=None if dtype is None else canonical_dtype(dtype))
    if arr.dtype == np.float16 or arr.dtype.kind == "c":
        raise TypeError(f"unsupported dtype {arr.dtype} for a constant")
    if arr.dtype.kind in "iu":
        arr = arr.astype(np.int64 if arr.dtype.itemsize > 4 or arr.dtype.kind == "u" else np.int32)
    arr = arr.astype(canonical_dtype(arr.dtype))
    arr.setflags(write=False)
    return Node("const", (), {"value": arr}, Aval(arr.shape, arr.dtype.name))


def as_node(value, like_dtype=None) -> Node:
    """A node for ``value``. Python scalars are weakly typed: they take ``like_dtype`` (as in JAX)
    so that ``x32 * 2.0`` stays float32."""
    if isinstance(value, Node):
        return value
    if isinstance(value, (bool, np.bool_)):
        return const(value, "bool")
    if isinstance(value, (int, float)) and like_dtype is not None:
        if isinstance(value, float) and not is_float(like_dtype):
            return const(value, "float64")
        return const(value, like_dtype if like_dtype != "bool" else None)
    if isinstance(value, int):
        return const(value, "int64")
    return const(value)
