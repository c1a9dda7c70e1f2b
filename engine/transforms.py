"""The public transformations: Function -> Function, memoized, no hidden state.

Each accepts a ``Function`` or a Python callable; a callable is traced on the first call for the
argument shapes and dtypes given, and the transformed function is kept per signature.
"""
from __future__ import annotations

import functools

import numpy as np

from .autodiff import jvp_nodes, vjp_nodes
from .function import Function, Spec, _spec_of, inline, trace
from .ir import FUNCTIONS, GraphError, Node, const, is_float, var

_MEMO: dict = {}


def _memoized(kind):
    def wrap(build):
        @functools.wraps(build)
        def transform(f, *args, **kwargs):
            if not isinstance(f, Function):
                if not callable(f):
                    raise TypeError(f"{kind}: expected a Function or a callable, got {type(f).__name__}")
                return Lazy(f, lambda g: transform(g, *args, **kwargs), kind)
            key = (kind, f.key, tuple(i.name for i in f.inputs), f.multiple, repr(args), repr(sorted(kwargs.items())))
            if key not in _MEMO:
                _MEMO[key] = build(f, *args, **kwargs)
            return _MEMO[key]
        return transform
    return wrap


class Lazy:
    """A transformation of a Python callable, traced at the first call for each signature."""

    def __init__(self, fn, transform, kind):
        self.fn, self.transform, self.kind = fn, transform, kind
        self.__name__ = f"{kind}_{getattr(fn, '__name__', 'f')}".replace("<lambda>", "f")
        self._cache = {}

    def function_for(self, *args) -> Function:
        """The transformed ``Function`` for arguments like ``args`` (arrays, numbers or Specs)."""
        specs = tuple(_spec_of(a) for a in args)
        if specs not in self._cache:
            self._cache[specs] = self.transform(trace(self.fn, *specs))
        return self._cache[specs]

    def __call__(self, *args):
        return self.function_for(*args)(*args)


def _wrt_indices(f: Function, wrt, what: str) -> list:
    names = [i.name for i in f.inputs]
    if wrt is None:  # every float input: integer inputs (indices, labels) are data
        idx = [k for k, i in enumerate(f.inputs) if is_float(i.dtype)]
        if not idx:
            raise GraphError(f"{what}: {f.name} has no float inputs to differentiate with respect to")
    else:
        items = [wrt] if isinstance(wrt, (str, int)) else list(wrt)
        idx = []
        for w in items:
            if isinstance(w, int) and 0 <= w < len(names):
                idx.append(w)
            elif w in names:
                idx.append(names.index(w))
            else:
                raise GraphError(f"{what}: wrt={w!r} is not an input of {f.name}; inputs are {names}")
    for k in idx:
        if not is_float(f.inputs[k].dtype):
            raise GraphError(f"{what}: input {names[k]!r} of {f.name} has dtype {f.inputs[k].dtype}; "
                             "only float inputs can be differentiated")
    return idx


def _fresh(f: Function, base: str, aval) -> Node:
    taken = {i.name for i in f.inputs}
    name = base
    while name in taken:
        name += "_"
    return var(name, aval.shape, aval.dtype)


def _or_zeros(t, like: Node) -> Node:
    return t if t is not None else FUNCTIONS["zeros_like"](like)


@_memoized("jvp")
def jvp(f: Function, wrt=None) -> Function:
    """Forward mode. Inputs: f's inputs, then one tangent per ``wrt`` input (named ``x_dot``).
    Outputs: f's outputs, then their tangents.

    >>> import adjit; from adjit import engine
    >>> g = engine.jvp(lambda x: x * x)
    >>> [float(v) for v in g(3.0, 1.0)]
    [9.0, 6.0]
    """
    idx = _wrt_indices(f, wrt, "jvp")
    tvars = [_fresh(f, f.inputs[k].name + "_dot", f.inputs[k].aval) for k in idx]
    touts = jvp_nodes(f.outputs, {f.inputs[k].id: t for k, t in zip(idx, tvars)})
    return Function([*f.inputs, *tvars], [*f.outputs, *map(_or_zeros, touts, f.outputs)], name=f"jvp_{f.name}")


@_memoized("vjp")
def vjp(f: Function, wrt=None) -> Function:
    """Reverse mode. Inputs: f's inputs, then one cotangent per output (named ``out0_bar``...).
    Outputs: f's outputs, then the cotangent of each ``wrt`` input."""
    idx = _wrt_indices(f, wrt, "vjp")
    cts = [_fresh(f, f"out{k}_bar", o.aval) for k, o in enumerate(f.outputs)]
    for o in f.outputs:
        if not is_float(o.dtype):
            raise GraphError(f"vjp: output of {f.name} has dtype {o.dtype}; cotangents need float outputs")
    grads = vjp_nodes(f.outputs, cts, [f.inputs[k] for k in idx])
    outs = [*f.outputs, *(_or_zeros(g, f.inputs[k]) for g, k in zip(grads, idx))]
    return Function([*f.inputs, *cts], outs, name=f"vjp_{f.name}")


def _scalar_output(f: Function, what: str) -> Node:
    if len(f.outputs) != 1:
        raise GraphError(f"{what}: {f.name} has {len(f.outputs)} outputs; it needs exactly one scalar output")
    out = f.outputs[0]
    if out.shape != () or not is_float(out.dtype):
        raise GraphError(f"{what}: the output of {f.name} is {out.aval}; it must be a float scalar "
                         "(reduce it, e.g. with ops.sum, or use jacobian/vjp)")
    return out


def _gradients(f: Function, idx) -> list:
    out = _scalar_output(f, "grad")
    one = const(1.0, out.dtype)
    grads = vjp_nodes([out], [one], [f.inputs[k] for k in idx])
    return [_or_zeros(g, f.inputs[k]) for g, k in zip(grads, idx)]


@_memoized("grad")
def grad(f: Function, wrt=None) -> Function:
    """Gradient of a scalar function: one output per ``wrt`` input (all float inputs by default).

    >>> from adjit import engine
    >>> float(engine.grad(lambda x: x ** 3)(2.0))
    12.0
    """
    idx = _wrt_indices(f, wrt, "grad")
    grads = _gradients(f, idx)
    return Function(f.inputs, grads if len(grads) > 1 else grads[0], name=f"grad_{f.name}")


@_memoized("value_and_grad")
def value_and_grad(f: Function, wrt=None) -> Function:
    """The value of a scalar function, then its gradients (as ``grad``)."""
    idx = _wrt_indices(f, wrt, "value_and_grad")
    return Function(f.inputs, [f.outputs[0], *_gradients(f, idx)], name=f"value_and_grad_{f.name}")


def _size(node: Node, what: str) -> int:
    if any(d is None for d in node.shape):
        raise GraphError(f"{what}: needs static shapes, got {node.aval}")
    return int(np.prod(node.shape, dtype=np.int64))


def _basis(aval, k: int) -> Node:
    e = np.zeros(int(np.prod(aval.shape, dtype=np.int64)), dtype=aval.dtype)
    e[k] = 1
    return const(e.reshape(aval.shape), aval.dtype)


def _stack_last(nodes, shape) -> Node:
    """Stack column nodes along a new last axis and reshape to ``shape``."""
    cols = [FUNCTIONS["reshape"](c, c.shape + (1,)) for c in nodes]
    return FUNCTIONS["reshape"](FUNCTIONS["concatenate"](cols, -1) if len(cols) > 1 else cols[0], shape)


def _forward_jacobian(out: Node, x: Node, what: str) -> Node:
    """d out / d x, shape ``out.shape + x.shape``: one JVP per element of x, stacked."""
    cols = [_or_zeros(jvp_nodes([out], {x.id: _basis(x.aval, j)})[0], out) for j in range(_size(x, what))]
    return _stack_last(cols, out.shape + x.shape)


@_memoized("jacobian")
def jacobian(f: Function, wrt=None, mode="auto") -> Function:
    """The Jacobian of f's single output: for each ``wrt`` input x, an array of shape
    ``out.shape + x.shape``. ``mode="fwd"`` builds one JVP per input element, ``"rev"`` one VJP
    per output element; ``"auto"`` picks forward when inputs are fewer than outputs.

    The basis is unrolled into the graph, so this is for small Jacobians (as ``torch.autograd``'s
    functional jacobian without vectorize)."""
    if mode not in ("auto", "fwd", "rev"):
        raise ValueError(f"jacobian: mode must be 'auto', 'fwd' or 'rev', got {mode!r}")
    if len(f.outputs) != 1:
        raise GraphError(f"jacobian: {f.name} has {len(f.outputs)} outputs; it needs exactly one")
    out = f.outputs[0]
    if not is_float(out.dtype):
        raise GraphError(f"jacobian: the output of {f.name} has dtype {out.dtype}")
    idx = _wrt_indices(f, wrt, "jacobian")
    n_out = _size(out, "jacobian")
    n_in = sum(_size(f.inputs[k], "jacobian") for k in idx)
    if mode == "auto":
        mode = "fwd" if n_in < n_out else "rev"
    jacs = []
    for k in idx:
        x = f.inputs[k]
        shape = out.shape + x.shape
        if mode == "fwd":
            jacs.append(_forward_jacobian(out, x, "jacobian"))
        else:
            rows = [_or_zeros(vjp_nodes([out], [_basis(out.aval, i)], [x])[0], x) for i in range(n_out)]
            flat = [FUNCTIONS["reshape"](r, (1,) + x.shape) for r in rows]
            stacked = FUNCTIONS["concatenate"](flat, 0) if len(flat) > 1 else flat[0]
            jacs.append(FUNCTIONS["reshape"](stacked, shape))
    return Function(f.inputs, jacs if len(jacs) > 1 else jacs[0], name=f"jacobian_{f.name}")


@_memoized("hessian")
def hessian(f: Function, wrt=None) -> Function:
    """Second derivatives of a scalar function, forward-over-reverse: the forward-mode Jacobian
    of the gradient. For one ``wrt`` input x the output has shape ``x.shape + x.shape``; for
    several, the blocks d2f/dxi dxj are the outputs in row-major order of (i, j)."""
    idx = _wrt_indices(f, wrt, "hessian")
    g = grad(f, wrt=[f.inputs[k].name for k in idx])
    blocks = []
    for gk in inline(g, f.inputs):  # grad is memoized by structure: g may be over another f's vars
        blocks.extend(_forward_jacobian(gk, f.inputs[k], "hessian") for k in idx)
    return Function(f.inputs, blocks if len(blocks) > 1 else blocks[0], name=f"hessian_{f.name}")


__all__ = ["jvp", "vjp", "grad", "value_and_grad", "jacobian", "hessian", "Lazy", "Spec"]
