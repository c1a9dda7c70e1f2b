"""``Function``: a pure function graph, its reference interpreter, SSA text and ``trace``."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import numpy as np

from . import primitive
from .ir import GraphError, Node, as_node, canonical_dtype, var


@dataclass(frozen=True)
class Spec:
    """The shape and dtype of an argument to trace with; a dimension may be None (dynamic)."""

    shape: tuple = ()
    dtype: str = "float64"


def toposort(outputs) -> list:
    """All nodes the outputs depend on, inputs before users (iterative: deep graphs are fine)."""
    order, seen = [], set()
    stack = [(o, False) for o in reversed(outputs)]
    while stack:
        node, expanded = stack.pop()
        if node.id in seen:
            continue
        if expanded:
            seen.add(node.id)
            order.append(node)
            continue
        stack.append((node, True))
        stack.extend((i, False) for i in reversed(node.inputs) if i.id not in seen)
    return order


def _print_name(name: str) -> str:
    # an input named like a node (v3) is quoted, so the SSA text stays unambiguous
    plain = re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", name) and not re.fullmatch(r"v\d+", name)
    return name if plain else repr(name)


def format_param(value) -> str:
    """A param as text; a Function (the body of a scan) as its structural key."""
    if isinstance(value, Function):
        return value.key
    if isinstance(value, np.ndarray):
        return np.array2string(value, precision=6, threshold=8)
    return str(value)


class Function:
    """A pure function from input variables to output nodes.

    Called with arrays it is evaluated by the reference (numpy) interpreter; called with nodes it
    is inlined and returns nodes, so functions compose inside new graphs.

    >>> x = var("x"); f = Function([x], x * x)
    >>> float(f(3.0))
    9.0
    """

    def __init__(self, inputs, outputs, name=None):
        inputs = list(inputs)
        for i in inputs:
            if not isinstance(i, Node) or i.prim != "var":
                raise GraphError(f"Function: inputs must be var nodes, got {i!r}")
        names = [i.name for i in inputs]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise GraphError(f"Function: input names must be unique, {sorted(dup)} repeat")
        self.multiple = not isinstance(outputs, Node)
        outs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]  # a non-node fails below
        for o in outs:
            if not isinstance(o, Node):
                raise GraphError(f"Function: outputs must be graph nodes, got {type(o).__name__}")
            if o.multiple:
                raise GraphError(f"Function: an output is the {o.prim} node made at {o.origin}, which has "
                                 f"several results {o.aval}; return its results instead")
        self.inputs = tuple(inputs)
        self.outputs = tuple(outs)
        self.name = name or "f"
        self.nodes = toposort(self.outputs)
        known = {i.id for i in inputs}
        for n in self.nodes:
            if n.prim == "var" and n.id not in known:
                raise GraphError(
                    f"Function {self.name}: output depends on var {n.name!r} (made at {n.origin}) "
                    f"which is not among the inputs {names}")
        self._key = None

    # --- identity -------------------------------------------------------------------------
    @property
    def key(self) -> str:
        """A hash of the canonical graph: equal for structurally equal functions."""
        if self._key is None:
            h = hashlib.sha256(self._text(canonical=True).encode())
            for n in self.nodes:  # (a Function in a param is in the text by its own key)
                if n.prim == "const":
                    h.update(n.params["value"].tobytes())
            self._key = h.hexdigest()[:32]
        return self._key

    def __hash__(self):
        return hash(self.key)

    def __eq__(self, other):
        return isinstance(other, Function) and other.key == self.key

    # --- printing -------------------------------------------------------------------------
    def _text(self, canonical=False, indent="") -> str:
        """SSA text. A Function held in a param (the body of a scan) is printed as a nested block
        under its node, or, in the canonical text that keys the graph, as its own key."""
        names = {}
        for k, i in enumerate(self.inputs):
            names[i.id] = f"in{k}" if canonical else _print_name(i.name)
        lines, count = [], 0

        def ref(n):
            if n.id in names:
                return names[n.id]
            value = n.params["value"]
            if value.ndim == 0:
                return f"{value.item()!r}:{n.aval}"
            return f"const{n.aval}"

        for n in self.nodes:
            if n.prim in ("var", "const"):
                continue
            names[n.id] = f"v{count}"
            count += 1
            nested = {} if canonical else {k: v for k, v in n.params.items() if isinstance(v, Function)}
            params = ", ".join(f"{k}={format_param(v)}" for k, v in sorted(n.params.items()) if k not in nested)
            rhs = n.prim + (f"[{params}]" if params else "") + " " + " ".join(ref(i) for i in n.inputs)
            lines.append(f"{indent}  {names[n.id]}:{n.aval} = {rhs}")
            for k, v in sorted(nested.items()):
                lines.append(f"{indent}    {k} = " + v._text(indent=indent + "    ").lstrip())
        args = ", ".join(f"{names[i.id]}:{i.aval}" for i in self.inputs)
        outs = ", ".join(ref(o) if o.prim == "const" else names[o.id] for o in self.outputs)
        return "\n".join([f"{indent}{'f' if canonical else self.name}({args}) {{", *lines,
                          f"{indent}  return {outs}", f"{indent}}}"])

    def __str__(self):
        return self._text()

    def __repr__(self):
        return f"<Function {self.name}: {len(self.nodes)} nodes, key {self.key[:8]}>"

    # --- calling --------------------------------------------------------------------------
    def __call__(self, *args):
        if len(args) != len(self.inputs):
            raise TypeError(f"{self.name}: expected {len(self.inputs)} arguments "
                            f"({', '.join(i.name for i in self.inputs)}), got {len(args)}")
        if any(isinstance(a, Node) for a in args):
            outs = inline(self, args)
        else:
            outs = evaluate(self, [check_arg(self, i, a) for i, a in zip(self.inputs, args)])
        return tuple(outs) if self.multiple else outs[0]


def check_arg(f: Function, inp: Node, value) -> np.ndarray:
    """The argument as an array of the input's dtype, or a one-line error naming the input."""
    arr = np.asarray(value)
    want = inp.dtype
    if arr.dtype.name != want:
        if not (np.can_cast(arr.dtype, want, "same_kind") or (arr.ndim == 0 and arr.dtype.kind in "biuf")
                or (arr.dtype.kind in "iu" and want.startswith("float"))):
            raise TypeError(f"{f.name}: argument {inp.name!r} has dtype {arr.dtype}, expected {want}")
        arr = arr.astype(want)
    if arr.ndim != inp.ndim or any(d is not None and d != s for d, s in zip(inp.shape, arr.shape)):
        raise ValueError(f"{f.name}: argument {inp.name!r} has shape {arr.shape}, expected "
                         f"{tuple('?' if d is None else d for d in inp.shape)}")
    return arr


def inline(f: Function, args) -> list:
    """The outputs of ``f`` rebuilt on the given argument nodes (or values)."""
    env = {}
    for inp, a in zip(f.inputs, args):
        node = a if isinstance(a, Node) else as_node(a, inp.dtype)
        if node.ndim != inp.ndim or any(d is not None and e is not None and d != e
                                        for d, e in zip(inp.shape, node.shape)):
            raise GraphError(f"{f.name}: argument {inp.name!r} has shape {node.shape}, expected {inp.shape}")
        env[inp.id] = node
    for n in f.nodes:
        if n.id not in env:
            env[n.id] = primitive.rebind(n, [env[i.id] for i in n.inputs]) if n.inputs else n
    return [env[o.id] for o in f.outputs]


def evaluate(f: Function, arrays) -> list:
    """The reference interpreter: each node by its primitive's numpy implementation."""
    env = {i.id: a for i, a in zip(f.inputs, arrays)}
    uses = {}
    for n in f.nodes:
        for i in n.inputs:
            uses[i.id] = uses.get(i.id, 0) + 1
    keep = {o.id for o in f.outputs}
    for n in f.nodes:
        if n.id in env:
            continue
        if n.prim == "const":
            env[n.id] = n.params["value"]
            continue
        prim = primitive.get(n.prim)
        with np.errstate(all="ignore"):
            out = prim.impl(*[env[i.id] for i in n.inputs], **n.params)
        if n.multiple:  # one array per result
            env[n.id] = tuple(np.asarray(o, dtype=a.dtype) for o, a in zip(out, n.aval))
        else:
            env[n.id] = np.asarray(out, dtype=n.dtype)
        for i in n.inputs:  # free intermediates as soon as their last user ran
            uses[i.id] -= 1
            if uses[i.id] == 0 and i.id not in keep and i.prim != "var":
                env.pop(i.id, None)
    return [env[o.id] for o in f.outputs]


def _spec_of(example) -> Spec:
    if isinstance(example, Spec):
        return Spec(tuple(example.shape), canonical_dtype(example.dtype))
    if isinstance(example, Node):
        return Spec(example.shape, example.dtype)
    arr = np.asarray(example)
    if arr.dtype.kind == "f":
        dtype = arr.dtype.name if arr.dtype.name in ("float32", "float64") else "float64"
    else:
        dtype = canonical_dtype("int64" if arr.dtype.kind in "iu" and arr.dtype.itemsize == 8 else arr.dtype)
    return Spec(arr.shape, dtype)


def trace(fn, *specs, names=None, name=None) -> Function:
    """Turn a Python callable of nodes into a ``Function``.

    A spec is an example array, a Python number or ``Spec(shape, dtype)``; input names come from
    the callable's parameters.

    >>> f = trace(lambda x, y: x * y + 1.0, 2.0, 3.0)
    >>> float(f(2.0, 3.0))
    7.0
    """
    if isinstance(fn, Function):
        return fn
    if names is None:
        names = _param_names(fn, len(specs))
    inputs = [var(n, s.shape, s.dtype) for n, s in zip(names, map(_spec_of, specs))]
    outputs = fn(*inputs)
    if isinstance(outputs, list):
        outputs = tuple(outputs)
    if isinstance(outputs, tuple):
        outputs = tuple(o if isinstance(o, Node) else as_node(o) for o in outputs)
    elif not isinstance(outputs, Node):
        outputs = as_node(outputs)
    return Function(inputs, outputs, name=name or getattr(fn, "__name__", "f").replace("<lambda>", "f"))


def _param_names(fn, n: int) -> list:
    import inspect
    try:
        params = [p for p in inspect.signature(fn).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    if len(params) >= n:
        return [p.name for p in params[:n]]
    return [f"x{k}" for k in range(n)]
