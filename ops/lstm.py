"""The fused LSTM cell: the gate nonlinearities and the state update of one step as one kernel,
forward and backward.

  lstm_cell(z, c) -> (h, c', a)                       z (N, 4H): the gate pre-activations
                                                      x W + h U + b, gates i, f, g, o; c (N, H)
  lstm_cell_grad(a, c, h_bar, c_bar) -> (z_bar, c_bar_prev)     its VJP

with a = [i, f, g, o] = [sigmoid(z_i), sigmoid(z_f), tanh(z_g), sigmoid(z_o)] (N, 4H), the
activated gates, c' = f*c + i*g and h = o*tanh(c'). The forward keeps a, as cuDNN does, so that
the backward needs one tanh per element instead of five exp-like functions; the front end
returns (h, c') only. The matrix products stay outside (BLAS GEMMs, differentiated as usual);
what the primitive replaces is the four gate slices, seven elementwise ops and, in a scan's
reverse loop, the seven per-step residuals (a is the one saved) and the four slice adjoints
(zero-filled (N, 4H) arrays).

The VJP of ``lstm_cell`` is ``lstm_cell_grad``. Every other rule (the JVPs, and the VJP of
``lstm_cell_grad`` for second derivatives) is the derivative of the same formulas written with
slices and elementwise ops (``_cell``, ``_cell_grad``), built on fresh variables and inlined:
correct to any order, and checked against the kernels by the op table. Kernels:
``lstm_kernels.py`` (numpy, numba) and ``cuda_kernels.py``.
"""
from __future__ import annotations

from ..engine.autodiff import jvp_nodes, vjp_nodes
from ..engine.function import Function, inline
from ..engine.ir import Aval, GraphError, TupleAval, is_float, var
from ..engine.primitive import Primitive, bind
from . import lstm_kernels
from .lstm_kernels import gate_blocks
from .api import concatenate, expand_dims, promote, sigmoid, squeeze, tanh
from .scan_rules import results


# --- shape rules ------------------------------------------------------------------------------------
def _same(a, b) -> bool:
    return a is None or b is None or a == b


def _cell_operands(where, z, c) -> tuple:
    """(batch, units) after checking z (N, 4H) and c (N, H)."""
    if z.ndim != 2 or c.ndim != 2:
        raise GraphError(f"{where}: z {z} and c {c} must have rank 2: (N, 4H) and (N, H)")
    if z.dtype != c.dtype or not is_float(z.dtype):
        raise GraphError(f"{where}: z {z} and c {c} must have one float dtype")
    units = c.shape[1]
    if units is None or z.shape[1] != 4 * units:
        raise GraphError(f"{where}: z {z} must have 4 x {units} gate columns for the cell c {c}")
    if not _same(z.shape[0], c.shape[0]):
        raise GraphError(f"{where}: z {z} and c {c} have different batch sizes")
    return (z.shape[0] if z.shape[0] is not None else c.shape[0]), units


def _lstm_cell_rule(z, c):
    n, units = _cell_operands("lstm_cell", z, c)
    state = Aval((n, units), z.dtype)
    return TupleAval((state, state, Aval((n, 4 * units), z.dtype)))


def _lstm_cell_grad_rule(a, c, h_bar, c_bar):
    n, units = _cell_operands("lstm_cell_grad", a, c)
    for name, ct in (("h_bar", h_bar), ("c_bar", c_bar)):
        if ct.dtype != c.dtype or ct.ndim != 2 or not all(map(_same, ct.shape, c.shape)):
            raise GraphError(f"lstm_cell_grad: {name} {ct} must be shaped like c {c}")
    return TupleAval((Aval((n, 4 * units), a.dtype), Aval((n, units), a.dtype)))


# --- the formulas with ops (the source of the derived rules) ---------------------------------------
def _cell(z, c):
    zi, zf, zg, zo = gate_blocks(z, c.shape[1])
    i, f, g, o = sigmoid(zi), sigmoid(zf), tanh(zg), sigmoid(zo)
    c_new = f * c + i * g
    return o * tanh(c_new), c_new, concatenate([i, f, g, o], axis=1)


def _acts_grad(a, bars):
    """The cotangent of z, from the activated gates a = act(z) and the cotangents ``bars`` of its
    four gate blocks."""
    i, f, g, o = gate_blocks(a, a.shape[1] // 4)
    bi, bf, bg, bo = bars
    return concatenate([bi * i * (1.0 - i), bf * f * (1.0 - f), bg * (1.0 - g * g), bo * o * (1.0 - o)],
                       axis=1)


def _cell_grad(a, c, h_bar, c_bar):
    i, f, g, o = gate_blocks(a, c.shape[1])
    t = tanh(f * c + i * g)
    d = c_bar + h_bar * o * (1.0 - t * t)
    return _acts_grad(a, (d * g, d * c, d * i, h_bar * t)), d * f


def _fresh(nodes, names) -> list:
    return [var(name, n.shape, n.dtype) for name, n in zip(names, nodes)]


def _rebuilt(outs, inputs, actual) -> tuple:
    """``outs`` (nodes of the vars ``inputs``, None for zeros) rebuilt on the ``actual`` nodes.
    Building on fresh vars keeps each rule a partial derivative in its own inputs, even where
    one operand is computed from another."""
    kept = [o for o in outs if o is not None]
    new = iter(inline(Function(inputs, kept), actual) if kept else [])
    return tuple(None if o is None else next(new) for o in outs)


def _derived_jvp(formula, names):
    def jvp(primals, tangents, ans, **params):
        xs = _fresh(primals, names)
        live = [k for k, t in enumerate(tangents) if t is not None]
        dots = _fresh([primals[k] for k in live], [names[k] + "_dot" for k in live])
        touts = jvp_nodes(list(formula(*xs)), {xs[k].id: d for k, d in zip(live, dots)})
        return _rebuilt(touts, xs + dots, list(primals) + [tangents[k] for k in live])
    return jvp


def _derived_vjp(formula, names):
    def vjp(cts, primals, ans, **params):
        xs = _fresh(primals, names)
        outs = formula(*xs)
        live = [k for k, ct in enumerate(cts) if ct is not None]
        bars = _fresh([outs[k] for k in live], [f"out{k}_bar" for k in live])
        grads = vjp_nodes([outs[k] for k in live], bars, xs)
        return list(_rebuilt(grads, xs + bars, list(primals) + [cts[k] for k in live]))
    return vjp


def _lstm_cell_vjp(cts, primals, ans):
    """``lstm_cell_grad`` on the saved activations, plus the part of a cotangent of a itself."""
    z, c = primals
    h_bar, c_bar, a_bar = cts
    a = bind("result", ans, index=2)
    z_bar = c_prev = None
    if h_bar is not None or c_bar is not None:
        h_bar, c_bar = (ct if ct is not None else bind("zeros_like", c) for ct in (h_bar, c_bar))
        z_bar, c_prev = results(bind("lstm_cell_grad", a, c, h_bar, c_bar))
    if a_bar is not None:
        direct = _acts_grad(a, gate_blocks(a_bar, a.shape[1] // 4))
        z_bar = direct if z_bar is None else z_bar + direct
    return [z_bar, c_prev]


# --- code generation ----------------------------------------------------------------------------------
def _emitter(numpy_kernel, cpu_kernel):
    """``numpy``: the reference; ``cpu``: the numba kernel on C-contiguous arrays; ``cuda``: the
    launcher in ``cuda_host.py`` named after the primitive. Each gives a tuple of new arrays."""
    def emit(target, n, out, *arrays):
        if target == "numpy":
            return [f"{out} = _k.{numpy_kernel}({', '.join(arrays)})"]
        if target == "cuda":
            return [f"{out} = _cu.{n.prim}({', '.join(arrays)})"]
        return [f"{out} = _k.{cpu_kernel}({', '.join(f'np.ascontiguousarray({a})' for a in arrays)})"]
    return emit


Primitive("lstm_cell", _lstm_cell_rule, lstm_kernels.lstm_cell_np, jvp=_derived_jvp(_cell, ("z", "c")),
          vjp=_lstm_cell_vjp, emit=_emitter("lstm_cell_np", "lstm_cell_fwd"))
Primitive("lstm_cell_grad", _lstm_cell_grad_rule, lstm_kernels.lstm_cell_grad_np,
          jvp=_derived_jvp(_cell_grad, ("a", "c", "h_bar", "c_bar")),
          vjp=_derived_vjp(_cell_grad, ("a", "c", "h_bar", "c_bar")),
          emit=_emitter("lstm_cell_grad_np", "lstm_cell_bwd"))


# --- the front end ------------------------------------------------------------------------------------
def lstm_cell(z, c):
    """One LSTM step after its matrix products: ``(h, c')`` from the gate pre-activations
    ``z = x W + h U + b`` (N, 4H), gates in the order i, f, g, o, and the cell ``c`` (N, H):
    ``c' = sigmoid(z_f)*c + sigmoid(z_i)*tanh(z_g)``, ``h = sigmoid(z_o)*tanh(c')``. One fused
    kernel forward and one backward on every target; rank-1 z (4H,) and c (H,) work too. (The
    node has a third result, the activated gates, which its VJP reads.)

    >>> import numpy as np
    >>> from adjit import engine, ops
    >>> f = engine.trace(lambda z, c: ops.lstm_cell(z, c), np.zeros((1, 8)), np.ones((1, 2)))
    >>> [a.round(4).tolist() for a in f(np.zeros((1, 8)), np.ones((1, 2)))]
    [[[0.2311, 0.2311]], [[0.5, 0.5]]]
    """
    z, c = promote(z, c, to_float=True)
    if z.ndim == 1 and c.ndim == 1:
        h, c_new = lstm_cell(expand_dims(z, 0), expand_dims(c, 0))
        return squeeze(h, 0), squeeze(c_new, 0)
    h, c_new, _ = results(bind("lstm_cell", z, c))
    return h, c_new
