"""The op table: one row per user-facing op drives every generic op test (as PyTorch's OpInfo).

A row says how to build the op with ``adjit.ops``, what numpy computes for it, which inputs to
try (shapes, domains that avoid poles and kinks, fixed integer or bool arguments), and which of
the generic checks in ``test_ops.py`` apply:

  ref       reference interpreter == the numpy expression
  compile   ``compiler.jit`` targets numpy and cpu == reference interpreter (value and VJP)
  vjp       VJP == central differences (float64)
  jvp       <u, J v> == <J^T u, v>  (JVP against VJP)
  sympy     the primitive's ``to_sympy`` differentiated by sympy == our gradient
  grad2     grad(grad) == central differences of grad; hessian == sympy for elementwise rows

A check a row cannot pass is listed in ``xfail`` with its reason (a strict xfail: it is reported
when it starts to pass), never skipped silently.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import scipy.special

import naive_conv as naive
from adjit import ops
from adjit.engine.primitive import bind
from adjit.ops import kernels

FLOATS = ("float32", "float64")
CHECKS = ("ref", "compile", "vjp", "jvp", "sympy", "grad2")


# --- input domains: callables (rng, shape) -> float64 array ---------------------------------------
def uniform(lo, hi):
    def draw(rng, shape):
        return rng.uniform(lo, hi, size=shape)
    draw.__name__ = f"uniform({lo}, {hi})"
    return draw


def away(lo, hi, gap=0.2):
    """Uniform on [lo, -gap] u [gap, hi]: no point near the kink at 0 (relu, abs)."""
    def draw(rng, shape):
        mag = rng.uniform(gap, hi, size=shape)
        return np.where(rng.random(size=shape) < 0.5, -np.minimum(mag, -lo), mag)
    draw.__name__ = f"away({lo}, {hi}, {gap})"
    return draw


def lattice(offset, step=0.2, spread=10, jitter=0.02):
    """Points ``k*step + offset`` (plus a little jitter). Two lattices with offsets 0 and
    step/2 never come closer than step/2 - 2*jitter: maximum/minimum stay away from ties."""
    def draw(rng, shape):
        return rng.integers(-spread, spread, size=shape) * step + offset + rng.uniform(-jitter, jitter, size=shape)
    draw.__name__ = f"lattice({offset})"
    return draw


def distinct(step=0.25, jitter=0.05):
    """All elements distinct, at least step - 2*jitter apart: one clear winner for max."""
    def draw(rng, shape):
        size = int(np.prod(shape, dtype=np.int64))
        values = (rng.permutation(size) - size / 2) * step + rng.uniform(-jitter, jitter, size=size)
        return values.reshape(shape)
    draw.__name__ = "distinct"
    return draw


def grid(step=0.5, lo=-2, hi=3):
    """Few distinct values, so comparisons see ties (equal, less_equal) as well as order."""
    def draw(rng, shape):
        return rng.integers(lo, hi, size=shape) * step
    draw.__name__ = "grid"
    return draw


# --- rows --------------------------------------------------------------------------------------------
@dataclass
class Sample:
    """One call of an op: ``args`` are shapes (a float input of the test dtype, drawn from the
    row's domain) or fixed arrays (integer indices, bool conditions); ``kwargs`` are static."""

    args: tuple
    kwargs: dict = field(default_factory=dict)

    def __repr__(self):
        args = ", ".join(str(a) if isinstance(a, tuple) else f"{a.dtype}{list(a.shape)}" for a in self.args)
        kw = "".join(f", {k}={v!r}" for k, v in self.kwargs.items())
        return f"({args}{kw})"


def S(*args, **kwargs) -> Sample:
    return Sample(tuple(args), kwargs)


@dataclass
class OpInfo:
    name: str
    build: Callable                 # nodes (and kwargs) -> node, with adjit.ops
    ref: Callable                   # numpy arrays (and kwargs) -> expected array
    samples: list
    domains: tuple = (uniform(-2, 2),)  # one per float argument (the last repeats)
    checks: tuple = ("ref", "compile", "vjp", "jvp")
    out_dtype: str | None = None    # None: the float dtype under test
    zero_grad: bool = False         # the derivative is zero by definition (stop_gradient)
    xfail: dict = field(default_factory=dict)  # check -> reason
    compile_samples: tuple = (-1,)  # the samples the cpu target compiles (in one numba function)
    targets: tuple = ("numpy", "cpu")  # compile targets; NUMPY_ONLY for rows composed of other rows
    dtypes: tuple = FLOATS

    def __repr__(self):
        return self.name

    def domain(self, k: int):
        return self.domains[min(k, len(self.domains) - 1)]

    def float_args(self, sample) -> list:
        return [k for k, a in enumerate(sample.args) if isinstance(a, tuple)]


def rng_for(*key) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def make_inputs(op: OpInfo, k: int, dtype: str) -> list:
    """The arrays of sample ``k`` of ``op`` in ``dtype`` (deterministic)."""
    rng = rng_for(op.name, k)
    out, j = [], 0
    for a in op.samples[k].args:
        if isinstance(a, tuple):
            out.append(np.asarray(op.domain(j)(rng, a), dtype=dtype))
            j += 1
        else:
            out.append(np.asarray(a))
    return out


_B = np.array([[True, False, True], [False, False, True]])
_I = np.array([0, 2, 2, -1])

UNARY_SHAPES = [S(()), S((4,)), S((2, 3))]
BINARY_SHAPES = [S((), ()), S((3,), (3,)), S((2, 3), (3,)), S((2, 1), (1, 3)), S((), (2, 3)), S((2, 3), ())]
REDUCE_SAMPLES = [S((2, 3)), S((2, 3), axis=0), S((2, 3), axis=1, keepdims=True), S((2, 3), axis=-1),
                  S((2, 3, 4), axis=(0, 2)), S((2, 3, 4), axis=(0, 2), keepdims=True), S((4,), axis=0),
                  S(())]
ALL = ("ref", "compile", "vjp", "jvp", "sympy", "grad2")
# Rows that compose ops which have rows of their own are compiled for the numpy target only: each
# cpu row costs a numba compile (about a second or more), and the suite must stay fast.
NUMPY_ONLY = ("numpy",)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def unary(name, ref, domain=uniform(-2, 2), checks=ALL, **kw):
    return OpInfo(name, getattr(ops, name), ref, UNARY_SHAPES, (domain,), checks, **kw)


def binary(name, ref, domains=(uniform(-2, 2),), checks=ALL, samples=BINARY_SHAPES, **kw):
    return OpInfo(name, getattr(ops, name), ref, samples, domains, checks, **kw)


def compare(name, ref):
    return OpInfo(name, getattr(ops, name), ref, BINARY_SHAPES, (grid(),), ("ref", "compile"),
                  out_dtype="bool")


def _softmax(x, axis=-1):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def _log_softmax(x, axis=-1):
    return x - scipy.special.logsumexp(x, axis=axis, keepdims=True)


def _scan(init, xs, reverse=False):
    """A carry and a y through one scan: the sum of the ys plus the final carry."""
    carry, ys = ops.scan(lambda c, x: (ops.tanh(c * x + 0.5), c * x), init, xs, reverse=reverse)
    return ops.sum(ys, axis=0) + carry


def _scan_ref(init, xs, reverse=False):
    carry, total = init, np.zeros_like(init)
    for x in (xs[::-1] if reverse else xs):
        carry, total = np.tanh(carry * x + np.asarray(0.5, init.dtype)), total + carry * x
    return total + carry


def _prim(name):
    """The build of a primitive users reach only through derivatives: its params spelled out."""
    def build(*xs, **params):
        return bind(name, *xs, **params)
    build.__name__ = name
    return build


def _lstm_gates(z):
    i, f, g, o = np.split(z, 4, axis=-1)
    return _sigmoid(i), _sigmoid(f), np.tanh(g), _sigmoid(o)


def _lstm_ref(z, c, which="both"):
    """The LSTM cell written out: h and c' side by side (or h alone, the activated gates alone,
    or all three results of the node)."""
    i, f, g, o = _lstm_gates(z)
    c_new = f * c + i * g
    h = o * np.tanh(c_new)
    picked = {"h": [h], "both": [h, c_new], "a": [i, f, g, o], "all": [h, c_new, i, f, g, o]}[which]
    return np.concatenate(picked, axis=-1)


def _lstm_grad_ref(a, c, h_bar, c_bar):
    """The cell's VJP written out by the chain rule, from the activated gates a: z_bar and
    c_bar_prev side by side."""
    i, f, g, o = np.split(a, 4, axis=-1)
    t = np.tanh(f * c + i * g)
    d = c_bar + h_bar * o * (1 - t ** 2)
    return np.concatenate([d * g * i * (1 - i), d * c * f * (1 - f), d * i * (1 - g ** 2), h_bar * t * o * (1 - o),
                           d * f], axis=-1)


def _lstm(z, c, which="both"):
    if which in ("a", "all"):  # the node's third result, which the front end does not return
        h, c_new, a = (bind("result", bind("lstm_cell", z, c), index=k) for k in range(3))
        return a if which == "a" else ops.concatenate([h, c_new, a], axis=-1)
    h, c_new = ops.lstm_cell(z, c)
    return h if which == "h" else ops.concatenate([h, c_new], axis=-1)


def _lstm_grad(*xs):
    node = bind("lstm_cell_grad", *xs)
    return ops.concatenate([bind("result", node, index=k) for k in range(2)], axis=-1)


_CONV_1 = dict(strides=(1, 1), padding=((0, 0), (0, 0)), dilation=(1, 1))
_CONV_2 = dict(strides=(2, 1), padding=((1, 0), (2, 1)), dilation=(1, 2))
_POOL_1 = dict(pool=(2, 2), strides=(2, 2), padding=((0, 0), (0, 0)))
_POOL_2 = dict(pool=(3, 2), strides=(1, 2), padding=((1, 1), (0, 1)))  # overlapping rows, padded

TABLE = [
    # --- elementwise, unary ---------------------------------------------------------------------
    unary("neg", np.negative),
    unary("exp", np.exp),
    unary("log", np.log, uniform(0.3, 3)),
    unary("log1p", np.log1p, uniform(-0.6, 2)),
    unary("sin", np.sin),
    unary("cos", np.cos),
    unary("tan", np.tan, uniform(-1.2, 1.2)),
    unary("tanh", np.tanh),
    unary("sigmoid", _sigmoid, uniform(-4, 4)),
    unary("relu", lambda x: np.maximum(x, 0), away(-2, 2)),
    unary("sqrt", np.sqrt, uniform(0.3, 3)),
    unary("abs", np.abs, away(-2, 2)),
    # --- elementwise, binary --------------------------------------------------------------------
    binary("add", np.add),
    binary("sub", np.subtract),
    binary("mul", np.multiply),
    binary("div", np.divide, (uniform(-2, 2), away(-2, 2, 0.4))),
    binary("pow", np.power, (uniform(0.4, 2), uniform(-1.5, 1.5))),
    binary("maximum", np.maximum, (lattice(0.1), lattice(0.0))),
    binary("minimum", np.minimum, (lattice(0.1), lattice(0.0))),
    # Python operators, and Python scalars as weakly typed constants (float32 stays float32)
    OpInfo("operators", lambda x, y: (x + y) * x - y / (x * x + 1.0) + (-x) ** 2,
           lambda x, y: (x + y) * x - y / (x * x + 1.0) + (-x) ** 2, BINARY_SHAPES,
           checks=ALL[:4] + ("grad2",), targets=NUMPY_ONLY),
    OpInfo("scalar_left", lambda x: 2.0 - 3.0 / x + 2.0 ** x + 0.5 * x,
           lambda x: 2.0 - 3.0 / x + 2.0 ** x + 0.5 * x, UNARY_SHAPES, (away(-2, 2, 0.5),),
           checks=ALL[:4] + ("grad2",), targets=NUMPY_ONLY),
    OpInfo("pow_const", lambda x: x ** 3 + x ** 0.5 + x ** -1,
           lambda x: x ** 3 + x ** 0.5 + x ** -1.0, UNARY_SHAPES, (uniform(0.3, 2),),
           checks=ALL[:4] + ("grad2",), targets=NUMPY_ONLY),
    OpInfo("where", lambda c, x, y: ops.where(c, x, y), np.where,
           [S(_B, (2, 3), (2, 3)), S(_B, (2, 3), ()), S(_B[:, :1], (3,), (2, 3)), S(np.array(True), (), (3,))],
           checks=("ref", "compile", "vjp", "jvp", "grad2")),
    OpInfo("where_scalar_branch", lambda c, x: ops.where(c, x, 0.0) + ops.where(c, 1.0, x),
           lambda c, x: np.where(c, x, 0.0) + np.where(c, 1.0, x), [S(_B, (2, 3)), S(_B, (3,))],
           targets=NUMPY_ONLY),
    compare("less", np.less),
    compare("less_equal", np.less_equal),
    compare("greater", np.greater),
    compare("greater_equal", np.greater_equal),
    compare("equal", np.equal),
    compare("not_equal", np.not_equal),
    OpInfo("comparison_operators", lambda x, y: ops.logical_not((x < y) == (x >= y)) != (x > 1.0),
           lambda x, y: np.logical_not((x < y) == (x >= y)) != (x > 1.0), BINARY_SHAPES, (grid(),),
           ("ref", "compile"), out_dtype="bool", targets=NUMPY_ONLY),
    OpInfo("sign", ops.sign, np.sign, UNARY_SHAPES, (grid(),), ("ref", "compile")),
    OpInfo("stop_gradient", ops.stop_gradient, lambda x: x, UNARY_SHAPES, zero_grad=True),
    OpInfo("uniform", ops.uniform, kernels.uniform_ref, [S(np.array(7), (4,)), S(np.array(-3), (2, 3))],
           checks=("ref", "compile")),
    OpInfo("zeros_ones_like", lambda x: x * ops.ones_like(x) + ops.zeros_like(x) * x,
           lambda x: x * np.ones_like(x) + np.zeros_like(x) * x, UNARY_SHAPES),
    OpInfo("astype_roundtrip", lambda x: (x.astype("float64") * 2.0).astype(x.dtype),
           lambda x: (x.astype("float64") * 2.0).astype(x.dtype), UNARY_SHAPES, checks=ALL[:4] + ("grad2",)),
    # --- reductions -----------------------------------------------------------------------------
    OpInfo("sum", ops.sum, np.sum, REDUCE_SAMPLES, checks=ALL[:4] + ("grad2",)),
    OpInfo("mean", ops.mean, np.mean, REDUCE_SAMPLES, checks=ALL[:4] + ("grad2",)),
    OpInfo("max", ops.max, np.max, REDUCE_SAMPLES, (distinct(),)),
    OpInfo("methods", lambda x: x.sum(axis=0) * x.mean(axis=0, keepdims=True) + x.max(axis=1, keepdims=True),
           lambda x: x.sum(axis=0) * x.mean(axis=0, keepdims=True) + x.max(axis=1, keepdims=True),
           [S((2, 3)), S((3, 3))], (distinct(),), targets=NUMPY_ONLY),
    # --- shapes and indexing --------------------------------------------------------------------
    OpInfo("reshape", ops.reshape, np.reshape,
           [S((2, 3), shape=(3, 2)), S((6,), shape=(2, -1)), S((), shape=(1, 1)), S((2, 3, 4), shape=(4, 6)),
            S((1, 1), shape=())]),
    OpInfo("transpose", ops.transpose, np.transpose,
           [S((2, 3)), S((2, 3, 4), axes=(1, 0, 2)), S((2, 3, 4), axes=(-1, 0, 1)), S((3,)), S(())]),
    OpInfo("T_swapaxes", lambda x: ops.swapaxes(x.T, 0, 1) * 2.0, lambda x: np.swapaxes(x.T, 0, 1) * 2.0,
           [S((2, 3)), S((2, 3, 4))], targets=NUMPY_ONLY),
    OpInfo("broadcast_to", ops.broadcast_to, np.broadcast_to,
           [S((3,), shape=(2, 3)), S((), shape=(2, 2)), S((2, 1), shape=(3, 2, 4)), S((2, 3), shape=(2, 3))]),
    OpInfo("expand_dims", ops.expand_dims, np.expand_dims,
           [S((3,), axis=0), S((2, 3), axis=-1), S((2, 3), axis=(0, 2)), S((), axis=0)]),
    OpInfo("squeeze", ops.squeeze, np.squeeze,
           [S((1, 3, 1)), S((1, 3, 1), axis=0), S((2, 1), axis=-1), S((1, 1), axis=(0, 1))]),
    OpInfo("concatenate", lambda *xs, axis: ops.concatenate(xs, axis), lambda *xs, axis: np.concatenate(xs, axis),
           [S((2, 3), (1, 3), axis=0), S((2, 3), (2, 2), axis=1), S((3,), (3,), (2,), axis=0),
            S((2, 3), (2, 1), axis=-1)]),
    OpInfo("stack", lambda *xs, axis: ops.stack(xs, axis), lambda *xs, axis: np.stack(xs, axis),
           [S((3,), (3,), axis=0), S((2, 3), (2, 3), axis=-1), S((), (), axis=0), S((2,), (2,), (2,), axis=1)]),
    OpInfo("getitem", lambda x, index: x[index], lambda x, index: x[index],
           [S((4, 3), index=1), S((4, 3), index=(slice(None), slice(1, 3))), S((5,), index=slice(None, None, -2)),
            S((2, 3, 4), index=(Ellipsis, 0)), S((4, 3), index=(None, slice(1, None))),
            S((4, 3), index=(-1, slice(None, None, 2))), S((4, 3), index=(slice(1, 2), None, slice(None))),
            S((4, 3), index=(2, 1))]),
    OpInfo("take", ops.take, lambda x, i: np.take(x, i, axis=0),
           [S((4, 3), _I), S((5,), np.array([[0, 1], [4, 4]])), S((3, 2, 2), np.array([1])),
            S((4,), np.array([3, -4, 3], dtype=np.int32))]),
    OpInfo("getitem_int_array", lambda x, i: x[i] * 2.0, lambda x, i: x[i] * 2.0,
           [S((4, 3), _I), S((3,), np.array([2, 2, 0]))], targets=NUMPY_ONLY),
    # --- linear algebra -------------------------------------------------------------------------
    OpInfo("matmul", ops.matmul, np.matmul,
           [S((2, 3), (3, 4)), S((3,), (3, 4)), S((2, 3), (3,)), S((3,), (3,)), S((2, 2, 3), (3, 4)),
            S((2, 2, 3), (2, 3, 2)), S((1, 2, 3), (4, 3, 2)), S((4, 2, 3), (3,))],
           checks=ALL[:4] + ("grad2",), compile_samples=(5,)),
    # c + a @ b, what the cpu lowering makes of add(c, matmul(a, b)): one in-place GEMM
    OpInfo("matmul_add", _prim("matmul_add"), lambda c, a, b: c + a @ b,
           [S((2, 4), (2, 3), (3, 4)), S((1, 3), (1, 2), (2, 3)), S((3, 1), (3, 2), (2, 1))],
           checks=ALL[:4] + ("grad2",), compile_samples=(0, 1, 2)),
    OpInfo("matmul_operator", lambda x, y: x @ y + 1.0, lambda x, y: x @ y + 1.0,
           [S((2, 3), (3, 2)), S((3,), (3, 2))], targets=NUMPY_ONLY),
    # the cpu code for batched products is the same for rank 3 and 4, and costs seconds to compile
    OpInfo("matmul_4d", ops.matmul, np.matmul, [S((2, 1, 2, 3), (1, 2, 3, 2)), S((2, 2, 2, 3), (3,))]),
    # --- the softmax family ---------------------------------------------------------------------
    OpInfo("softmax", ops.softmax, _softmax,
           [S((4,)), S((2, 3)), S((2, 3), axis=0), S((2, 3, 2), axis=(0, 2))], checks=ALL[:4] + ("grad2",)),
    OpInfo("log_softmax", ops.log_softmax, _log_softmax,
           [S((4,)), S((2, 3)), S((2, 3), axis=0), S((2, 3, 2), axis=(0, 2))], checks=ALL[:4] + ("grad2",)),
    OpInfo("logsumexp", ops.logsumexp, scipy.special.logsumexp,
           [S((4,)), S((2, 3), axis=1), S((2, 3), axis=0, keepdims=True), S(()), S((2, 3, 2), axis=(0, 2))],
           checks=ALL[:4] + ("grad2",)),
    OpInfo("softmax_large", lambda x: ops.softmax(x * 300.0), lambda x: _softmax(x * 300.0), [S((2, 3)), S((5,))],
           (distinct(),), targets=NUMPY_ONLY),
    # --- control flow: scan (and result, which reads its results) -------------------------------
    OpInfo("scan", _scan, _scan_ref, [S((3,), (4, 3)), S((), (5,), reverse=True), S((2, 3), (3, 2, 3))],
           checks=ALL[:4] + ("grad2",)),
    # --- the fused LSTM cell: kernels and derivatives against the formula written out ----------
    OpInfo("lstm_cell", _lstm, _lstm_ref, [S((8,), (2,)), S((3, 8), (3, 2), which="h"), S((2, 12), (2, 3)),
                                          S((2, 8), (2, 2), which="a"), S((2, 8), (2, 2), which="all")],
           checks=ALL[:4] + ("grad2",)),
    # its VJP; the cpu and cuda kernels run in the row above (its VJP), its derivatives are ops'
    OpInfo("lstm_cell_grad", _lstm_grad, _lstm_grad_ref, [S((2, 4), (2, 1), (2, 1), (2, 1))],
           checks=ALL[:4] + ("grad2",), targets=NUMPY_ONLY),
    # --- convolution and pooling (NHWC); the gradient primitives with their params spelled out ---
    OpInfo("conv2d", ops.conv2d, naive.conv2d,
           [S((1, 4, 4, 1), (2, 2, 1, 2)), S((2, 5, 5, 2), (3, 3, 2, 3), stride=2), S((1, 5, 6, 2), (3, 4, 2, 2)),
            S((1, 6, 6, 1), (2, 2, 1, 2), dilation=2), S((2, 5, 5, 2), (3, 3, 2, 2), padding="same"),
            S((1, 5, 4, 2), (3, 2, 2, 3), stride=(2, 1), padding=((1, 0), (2, 1))),
            S((1, 5, 5, 1), (3, 3, 1, 1), stride=2, padding="same")],
           checks=ALL[:4] + ("grad2",), compile_samples=(1, 5, 6)),
    OpInfo("conv2d_input_grad", _prim("conv2d_input_grad"), naive.conv2d_input_grad,
           [S((1, 3, 3, 2), (2, 2, 1, 2), input_hw=(4, 4), **_CONV_1), S((2, 2, 7, 3), (3, 2, 2, 3), input_hw=(5, 6), **_CONV_2)],
           checks=ALL[:4] + ("grad2",)),
    OpInfo("conv2d_weight_grad", _prim("conv2d_weight_grad"), naive.conv2d_weight_grad,
           [S((1, 4, 4, 1), (1, 3, 3, 2), kernel_hw=(2, 2), **_CONV_1), S((2, 5, 6, 2), (2, 2, 7, 3), kernel_hw=(3, 2), **_CONV_2)],
           checks=ALL[:4] + ("grad2",)),
    OpInfo("maxpool2d", ops.maxpool2d, naive.maxpool2d,
           [S((1, 4, 4, 2)), S((2, 5, 5, 1), pool=3, stride=2), S((1, 5, 4, 2), pool=(2, 3), stride=1, padding="same"),
            S((1, 4, 5, 1), pool=2, padding=((1, 0), (0, 1)))], (distinct(),), compile_samples=(1, 2)),
    OpInfo("maxpool2d_grad", _prim("maxpool2d_grad"), naive.maxpool2d_grad,
           [S((1, 4, 4, 2), (1, 2, 2, 2), **_POOL_1), S((1, 4, 5, 2), (1, 4, 3, 2), **_POOL_2)],
           (distinct(), uniform(-2, 2))),
    OpInfo("maxpool2d_gather", _prim("maxpool2d_gather"), naive.maxpool2d_gather,
           [S((1, 4, 4, 2), (1, 4, 4, 2), **_POOL_1), S((1, 4, 5, 2), (1, 4, 5, 2), **_POOL_2)],
           (distinct(), uniform(-2, 2))),
    # the VJP of maxpool2d_grad with respect to its cotangent (maxpool2d_gather) in a second derivative
    OpInfo("maxpool2d_square", lambda x: ops.maxpool2d(x, 2, 1) ** 2, lambda x: naive.maxpool2d(x, 2, 1) ** 2,
           [S((1, 3, 3, 2))], (distinct(),), checks=ALL[:4] + ("grad2",), targets=NUMPY_ONLY),
    OpInfo("avgpool2d", ops.avgpool2d, naive.avgpool2d,
           [S((1, 4, 4, 2)), S((2, 5, 5, 1), pool=3, stride=2, padding="same"),
            S((1, 5, 4, 2), pool=(2, 3), stride=1, padding=1)], compile_samples=(1, 2)),
    OpInfo("avgpool2d_grad", _prim("avgpool2d_grad"), naive.avgpool2d_grad,
           [S((1, 2, 2, 2), input_hw=(4, 4), **_POOL_1), S((1, 4, 3, 2), input_hw=(4, 5), **_POOL_2)]),
    OpInfo("global_avgpool", ops.global_avgpool, lambda x: x.mean(axis=(1, 2)), [S((2, 3, 4, 2)), S((1, 1, 1, 3))],
           checks=ALL[:4] + ("grad2",), targets=NUMPY_ONLY),
]

TABLE_BY_NAME = {op.name: op for op in TABLE}
assert len(TABLE_BY_NAME) == len(TABLE), "op names must be unique"
