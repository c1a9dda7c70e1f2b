"""Convolution and pooling over channels-last images (N, H, W, C), and the functions that build them.

Params are tuples of ints: ``strides=(sh, sw)``, ``padding=((top, bottom), (left, right))``,
``dilation=(dh, dw)``, ``pool=(ph, pw)``; ``input_hw``/``kernel_hw`` give the size a gradient
primitive cannot infer from its inputs. The primitives:

  conv2d(x, w)                        (N,H,W,Cin) x (KH,KW,Cin,Cout) -> (N,OH,OW,Cout)
  conv2d_input_grad(ct, w; input_hw)  the transposed convolution -> (N,H,W,Cin)
  conv2d_weight_grad(x, ct; kernel_hw)                           -> (KH,KW,Cin,Cout)
  maxpool2d(x; pool)                  the window maxima -> (N,OH,OW,C)
  maxpool2d_grad(x, ct; pool)         each window's ct added at its maximum -> (N,H,W,C)
  maxpool2d_gather(x, t; pool)        t at each window's maximum of x -> (N,OH,OW,C)
  avgpool2d(x; pool)                  window means over cells inside the image -> (N,OH,OW,C)
  avgpool2d_grad(ct; input_hw, pool)  its transpose -> (N,H,W,C)

conv2d is bilinear, its two gradient primitives are bilinear too, and the three are transposes of
one another in each argument, so every derivative of any order is one of them again. Max pooling
routes derivatives through the window maxima (the first in row-major order; a NaN wins):
maxpool2d_grad and maxpool2d_gather are transposes of each other and linear in their second
argument. Kernels: ``conv_kernels.py``.
"""
from __future__ import annotations

import math

import numpy as np

from ..engine.ir import Aval, GraphError, as_node, format_shape, is_float, user_origin
from ..engine.primitive import Primitive, bind
from . import conv_kernels
from .api import mean


# --- shape rules ----------------------------------------------------------------------------------
def _operands(where, named):
    """Check rank 4, one float dtype and a static height and width (a static kernel)."""
    for name, a in named:
        if a.ndim != 4:
            layout = "(KH, KW, Cin, Cout)" if name == "w" else "(N, H, W, C)"
            raise GraphError(f"{where}: {name} must have rank 4 {layout}")
    dtypes = [a.dtype for _, a in named]
    if len(set(dtypes)) > 1:
        raise GraphError(f"{where}: dtypes {' and '.join(dtypes)} differ (convert one: x.astype(...))")
    if not is_float(dtypes[0]):
        raise GraphError(f"{where}: needs float inputs, got {dtypes[0]}")
    for name, a in named:
        if a.shape[1] is None or a.shape[2] is None or (name == "w" and None in a.shape):
            raise GraphError(f"{where}: the {'shape' if name == 'w' else 'height and width'} of {name} must be static")


def _out_hw(where, hw, k_hw, strides, padding, dilation=(1, 1), what="kernel"):
    """Output height and width, or an error when the (dilated) window outgrows the padded input."""
    span = tuple(d * (k - 1) + 1 for k, d in zip(k_hw, dilation))
    padded = tuple(s + p[0] + p[1] for s, p in zip(hw, padding))
    if span[0] > padded[0] or span[1] > padded[1]:
        dil = f" with dilation {dilation}" if dilation != (1, 1) else ""
        raise GraphError(f"{where}: the {what} {k_hw}{dil} spans {span[0]}x{span[1]}, more than the padded "
                         f"input {padded[0]}x{padded[1]} (padding {padding})")
    return tuple(conv_kernels.out_size(*args) for args in zip(hw, k_hw, strides, padding, dilation))


def _shapes(op, **avals):
    return f"{op}: " + " and ".join(f"{name} {format_shape(a.shape)}" for name, a in avals.items())


def _same(a, b):
    return a is None or b is None or a == b


def _conv2d_rule(x, w, strides, padding, dilation):
    where = _shapes("conv2d", x=x, w=w)
    _operands(where, [("x", x), ("w", w)])
    if x.shape[3] != w.shape[2]:
        channels = "a dynamic number of" if x.shape[3] is None else x.shape[3]
        raise GraphError(f"{where}: x has {channels} input channels, w expects {w.shape[2]}")
    oh, ow = _out_hw(where, x.shape[1:3], w.shape[:2], strides, padding, dilation)
    return Aval((x.shape[0], oh, ow, w.shape[3]), x.dtype)


def _conv2d_input_grad_rule(ct, w, input_hw, strides, padding, dilation):
    where = _shapes("conv2d_input_grad", ct=ct, w=w)
    _operands(where, [("ct", ct), ("w", w)])
    out = _out_hw(where, input_hw, w.shape[:2], strides, padding, dilation)
    if ct.shape[1:] != out + (w.shape[3],):
        raise GraphError(f"{where}: ct must be (N, {out[0]}, {out[1]}, {w.shape[3]}) for an input of "
                         f"height and width {input_hw}")
    return Aval((ct.shape[0],) + tuple(input_hw) + (w.shape[2],), ct.dtype)


def _conv2d_weight_grad_rule(x, ct, kernel_hw, strides, padding, dilation):
    where = _shapes("conv2d_weight_grad", x=x, ct=ct)
    _operands(where, [("x", x), ("ct", ct)])
    out = _out_hw(where, x.shape[1:3], kernel_hw, strides, padding, dilation)
    if not _same(x.shape[0], ct.shape[0]) or ct.shape[1:3] != out or x.shape[3] is None or ct.shape[3] is None:
        raise GraphError(f"{where}: ct must be (N, {out[0]}, {out[1]}, Cout), with the batch of x and static "
                         f"channels, for a kernel of height and width {kernel_hw}")
    return Aval(tuple(kernel_hw) + (x.shape[3], ct.shape[3]), x.dtype)


def _pool_out(op, x, pool, strides, padding):
    """(N, OH, OW, C) of pooling ``x``; no window may lie wholly in the padding."""
    where = _shapes(op, x=x)
    _operands(where, [("x", x)])
    out = _out_hw(where, x.shape[1:3], pool, strides, padding, what="pool")
    for axis, (size, k, s, pad, o) in enumerate(zip(x.shape[1:3], pool, strides, padding, out)):
        if pad[0] >= k or (o - 1) * s - pad[0] >= size:
            raise GraphError(f"{where}: padding {padding} leaves a window of pool {pool} with no cell of x "
                             f"(along {('height', 'width')[axis]})")
    return Aval((x.shape[0],) + out + (x.shape[3],), x.dtype)


def _pool_with(op, x, other, name, want):
    """Check that ``other`` (named ``name``) has the aval ``want``."""
    if other.dtype != want.dtype or other.ndim != 4 or not all(map(_same, other.shape, want.shape)):
        raise GraphError(f"{_shapes(op, x=x, **{name: other})}: {name} must be {want}")


def _maxpool2d_grad_rule(x, ct, pool, strides, padding):
    _pool_with("maxpool2d_grad", x, ct, "ct", _pool_out("maxpool2d_grad", x, pool, strides, padding))
    return x


def _maxpool2d_gather_rule(x, t, pool, strides, padding):
    _pool_with("maxpool2d_gather", x, t, "t", x)
    return _pool_out("maxpool2d_gather", x, pool, strides, padding)


def _avgpool2d_grad_rule(ct, input_hw, pool, strides, padding):
    _operands(_shapes("avgpool2d_grad", ct=ct), [("ct", ct)])
    like = Aval((ct.shape[0],) + tuple(input_hw) + (ct.shape[3],), ct.dtype)
    _pool_with("avgpool2d_grad", like, ct, "ct", _pool_out("avgpool2d_grad", like, pool, strides, padding))
    return like


# --- derivatives ----------------------------------------------------------------------------------
def _bilinear_jvp(name):
    """The JVP of a primitive linear in each of its two inputs: f(t0, b) + f(a, t1)."""
    def jvp(primals, tangents, ans, **params):
        (a, b), (ta, tb) = primals, tangents
        terms = [bind(name, ta, b, **params) if ta is not None else None,
                 bind(name, a, tb, **params) if tb is not None else None]
        terms = [t for t in terms if t is not None]
        return terms[0] if len(terms) == 1 else bind("add", *terms)
    return jvp


def _conv2d_vjp(ct, primals, ans, strides, padding, dilation):
    x, w = primals
    conv = dict(strides=strides, padding=padding, dilation=dilation)
    return [bind("conv2d_input_grad", ct, w, input_hw=x.shape[1:3], **conv),
            bind("conv2d_weight_grad", x, ct, kernel_hw=w.shape[:2], **conv)]


def _conv2d_input_grad_vjp(g, primals, ans, input_hw, strides, padding, dilation):
    ct, w = primals
    conv = dict(strides=strides, padding=padding, dilation=dilation)
    return [bind("conv2d", g, w, **conv), bind("conv2d_weight_grad", g, ct, kernel_hw=w.shape[:2], **conv)]


def _conv2d_weight_grad_vjp(g, primals, ans, kernel_hw, strides, padding, dilation):
    x, ct = primals
    conv = dict(strides=strides, padding=padding, dilation=dilation)
    return [bind("conv2d_input_grad", ct, g, input_hw=x.shape[1:3], **conv), bind("conv2d", x, g, **conv)]


def _linear_in_second(name):
    """The JVP of ``name(x, t)``, linear in t and locally constant in x (it selects by x)."""
    def jvp(primals, tangents, ans, **params):
        return None if tangents[1] is None else bind(name, primals[0], tangents[1], **params)
    return jvp


# --- code generation ------------------------------------------------------------------------------
def _ints(n) -> dict:
    """A node's params as the ints the numba kernels take, by the kernels' argument names."""
    p, out = n.params, {}
    names = (("pool", ("ph", "pw")), ("input_hw", ("h", "wd")), ("kernel_hw", ("kh", "kw")),
             ("strides", ("sh", "sw")), ("dilation", ("dh", "dw")))
    for param, keys in names:
        if param in p:
            out.update(zip(keys, p[param]))
    out.update(zip(("pt", "pb", "pl", "pr"), p["padding"][0] + p["padding"][1]))
    return out


def _emitter(numpy_kernel, cpu_kernel, keep):
    """The emit rule of a primitive: its numpy reference called with the params as keywords
    (``numpy``), its numba kernel with contiguous arrays and the ints in ``keep`` (``cpu``), or
    its CUDA launcher in ``ops/cuda_host.py``, named after the primitive (``cuda``)."""
    def emit(target, n, out, *arrays):
        if target in ("numpy", "cuda"):
            params = ", ".join(f"{k}={v}" for k, v in n.params.items())
            call = f"_k.{numpy_kernel}" if target == "numpy" else f"_cu.{n.prim}"
            return [f"{out} = {call}({', '.join(arrays)}, {params})"]
        ints = _ints(n)
        args = [f"np.ascontiguousarray({a})" for a in arrays] + [f"{k}={ints[k]}" for k in keep]
        return [f"{out} = _k.{cpu_kernel}({', '.join(args)})"]
    return emit


def _dims(n, d):
    """The batch (and a pooled channel count) at run time, from the first input."""
    return (d[0][0], None, None, d[0][3] if n.prim.startswith(("maxpool", "avgpool")) else None)


_CONV_INTS = ("sh", "sw", "pt", "pb", "pl", "pr", "dh", "dw")
_POOL_INTS = ("ph", "pw", "sh", "sw", "pt", "pb", "pl", "pr")
ck = conv_kernels
Primitive("conv2d", _conv2d_rule, ck.conv2d_np, jvp=_bilinear_jvp("conv2d"), vjp=_conv2d_vjp,
          emit=_emitter("conv2d_np", "conv2d_fwd", _CONV_INTS), dims=_dims, allocates=True)
Primitive("conv2d_input_grad", _conv2d_input_grad_rule, ck.conv2d_input_grad_np,
          jvp=_bilinear_jvp("conv2d_input_grad"), vjp=_conv2d_input_grad_vjp,
          emit=_emitter("conv2d_input_grad_np", "conv2d_bwd_input", ("h", "wd", "sh", "sw", "pt", "pl", "dh", "dw")),
          dims=_dims, allocates=True)
Primitive("conv2d_weight_grad", _conv2d_weight_grad_rule, ck.conv2d_weight_grad_np,
          jvp=_bilinear_jvp("conv2d_weight_grad"), vjp=_conv2d_weight_grad_vjp,
          emit=_emitter("conv2d_weight_grad_np", "conv2d_bwd_weight", ("kh", "kw", "sh", "sw", "pt", "pl", "dh", "dw")),
          allocates=True)
Primitive("maxpool2d", lambda x, **p: _pool_out("maxpool2d", x, **p), ck.maxpool2d_np,
          jvp=lambda primals, tangents, ans, **p: bind("maxpool2d_gather", primals[0], tangents[0], **p),
          vjp=lambda ct, primals, ans, **p: [bind("maxpool2d_grad", primals[0], ct, **p)],
          emit=_emitter("maxpool2d_np", "maxpool2d_fwd", _POOL_INTS), dims=_dims, allocates=True)
Primitive("maxpool2d_grad", _maxpool2d_grad_rule, ck.maxpool2d_grad_np,
          jvp=_linear_in_second("maxpool2d_grad"),
          vjp=lambda g, primals, ans, **p: [None, bind("maxpool2d_gather", primals[0], g, **p)],
          emit=_emitter("maxpool2d_grad_np", "maxpool2d_bwd", ("ph", "pw", "sh", "sw", "pt", "pl")),
          dims=lambda n, d: d[0], allocates=True)
Primitive("maxpool2d_gather", _maxpool2d_gather_rule, ck.maxpool2d_gather_np,
          jvp=_linear_in_second("maxpool2d_gather"),
          vjp=lambda g, primals, ans, **p: [None, bind("maxpool2d_grad", primals[0], g, **p)],
          emit=_emitter("maxpool2d_gather_np", "maxpool2d_gather", _POOL_INTS), dims=_dims, allocates=True)
Primitive("avgpool2d", lambda x, **p: _pool_out("avgpool2d", x, **p), ck.avgpool2d_np,
          jvp=lambda primals, tangents, ans, **p: bind("avgpool2d", tangents[0], **p),
          vjp=lambda ct, primals, ans, **p: [bind("avgpool2d_grad", ct, input_hw=primals[0].shape[1:3], **p)],
          emit=_emitter("avgpool2d_np", "avgpool2d_fwd", _POOL_INTS), dims=_dims, allocates=True)
Primitive("avgpool2d_grad", _avgpool2d_grad_rule, ck.avgpool2d_grad_np,
          jvp=lambda primals, tangents, ans, input_hw, **p: bind("avgpool2d_grad", tangents[0], input_hw=input_hw, **p),
          vjp=lambda g, primals, ans, input_hw, **p: [bind("avgpool2d", g, **p)],
          emit=_emitter("avgpool2d_grad_np", "avgpool2d_bwd", ("h", "wd", "ph", "pw", "sh", "sw", "pt", "pl")),
          dims=_dims, allocates=True)


# --- front ends -----------------------------------------------------------------------------------
def _int_pair(value, low):
    """``value`` (an int or a pair of ints, each >= ``low``) as a pair of ints, or None."""
    pair = (value, value) if isinstance(value, (int, np.integer)) else value
    if isinstance(pair, (tuple, list)) and len(pair) == 2 and all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= low for v in pair):
        return tuple(int(v) for v in pair)
    return None


def _pair(where, name, value):
    """A stride, dilation or pool size: an int or a pair of positive ints, as a pair."""
    pair = _int_pair(value, 1)
    if pair is None:
        raise GraphError(f"{where}: {name} must be an int or a pair of positive ints, got {value!r}")
    return pair


def _padding(where, padding, hw, spans, strides):
    """((top, bottom), (left, right)) from "valid", "same" (TF/Keras: the extra cell goes to the
    bottom/right), an int, a pair (ph, pw) or ((top, bottom), (left, right))."""
    if isinstance(padding, str) and padding.lower() in ("valid", "same"):
        if padding.lower() == "valid":
            return ((0, 0), (0, 0))
        pads = []
        for size, span, s in zip(hw, spans, strides):
            total = max((math.ceil(size / s) - 1) * s + span - size, 0)
            pads.append((total // 2, total - total // 2))
        return tuple(pads)
    nested = isinstance(padding, (tuple, list)) and all(isinstance(p, (tuple, list)) for p in padding)
    pairs = [_int_pair(p, 0) for p in padding] if nested and len(padding) == 2 else [_int_pair(padding, 0)]
    if None not in pairs:
        return tuple(pairs) if nested else tuple((p, p) for p in pairs[0])
    raise GraphError(f"{where}: padding must be 'valid', 'same', an int, a pair (ph, pw) or "
                     f"((top, bottom), (left, right)) of ints >= 0, got {padding!r}")


def _located(check):
    """``check()``, with the user's line added to a GraphError it raises."""
    try:
        return check()
    except GraphError as err:
        raise GraphError(f"{err} (at {user_origin()})") from None


def conv2d(x, w, stride=1, padding="valid", dilation=1):
    """2-D cross-correlation of channels-last images, as in every deep-learning library:
    ``out[n, i, j, co] = sum(xpad[n, i*sh + m*dh, j*sw + p*dw, ci] * w[m, p, ci, co])``.

    x (N, H, W, Cin) and w (KH, KW, Cin, Cout) give (N, OH, OW, Cout) with
    ``OH = (H + pad_top + pad_bottom - dh*(KH-1) - 1) // sh + 1``. ``stride`` and ``dilation``:
    an int or (h, w). ``padding``: "valid" (none), "same" (OH = ceil(H / sh), TF/Keras: the odd
    cell goes to the bottom/right), an int, (ph, pw) or ((top, bottom), (left, right)). The
    batch may be dynamic; H, W and the channels must be static.

    >>> import numpy as np
    >>> from adjit import engine, ops
    >>> x = engine.var("x", (1, 4, 4, 1), "float32")
    >>> f = engine.Function([x], ops.conv2d(x, np.ones((3, 3, 1, 2), np.float32), padding="same"))
    >>> f.outputs[0].shape
    (1, 4, 4, 2)
    >>> f(np.ones((1, 4, 4, 1), np.float32))[0, :, :, 0]
    array([[4., 6., 6., 4.],
           [6., 9., 9., 6.],
           [6., 9., 9., 6.],
           [4., 6., 6., 4.]], dtype=float32)
    """
    x, w = as_node(x), as_node(w)

    def params():
        where = _shapes("conv2d", x=x, w=w)
        _operands(where, [("x", x), ("w", w)])
        strides, dil = _pair(where, "stride", stride), _pair(where, "dilation", dilation)
        spans = tuple(d * (k - 1) + 1 for k, d in zip(w.shape[:2], dil))
        return dict(strides=strides, padding=_padding(where, padding, x.shape[1:3], spans, strides), dilation=dil)
    return bind("conv2d", x, w, **_located(params))


def _pool(op, x, pool, stride, padding):
    x = as_node(x)

    def params():
        where = _shapes(op, x=x)
        _operands(where, [("x", x)])
        size = _pair(where, "pool", pool)
        strides = size if stride is None else _pair(where, "stride", stride)
        return dict(pool=size, strides=strides, padding=_padding(where, padding, x.shape[1:3], size, strides))
    return bind(op, x, **_located(params))


def maxpool2d(x, pool=2, stride=None, padding="valid"):
    """The maximum of each ``pool`` window of x (N, H, W, C); ``stride`` defaults to ``pool``,
    ``padding`` as in ``conv2d`` (padded cells never win). The derivative goes to one cell per
    window: its first maximum in row-major order (a NaN counts as the maximum); overlapping
    windows add up.

    >>> import numpy as np
    >>> from adjit import engine, ops
    >>> x = engine.var("x", (1, 4, 4, 1))
    >>> f = engine.Function([x], ops.maxpool2d(x, 2))
    >>> f(np.arange(16.0).reshape(1, 4, 4, 1))[0, :, :, 0]
    array([[ 5.,  7.],
           [13., 15.]])
    """
    return _pool("maxpool2d", x, pool, stride, padding)


def avgpool2d(x, pool=2, stride=None, padding="valid"):
    """The mean of each ``pool`` window of x (N, H, W, C); ``stride`` defaults to ``pool``,
    ``padding`` as in ``conv2d``. Padded cells are not counted, as in Keras/TF: a corner window
    of "same" padding averages only the cells inside the image.

    >>> import numpy as np
    >>> from adjit import engine, ops
    >>> x = engine.var("x", (1, 3, 3, 1))
    >>> f = engine.Function([x], ops.avgpool2d(x, 2, padding="same"))
    >>> f(np.arange(9.0).reshape(1, 3, 3, 1))[0, :, :, 0]
    array([[2. , 3.5],
           [6.5, 8. ]])
    """
    return _pool("avgpool2d", x, pool, stride, padding)


def global_avgpool(x):
    """(N, H, W, C) -> (N, C): the mean of each feature map.

    >>> import numpy as np
    >>> from adjit import engine, ops
    >>> x = engine.var("x", (2, 2, 2, 3))
    >>> engine.Function([x], ops.global_avgpool(x)).outputs[0].shape
    (2, 3)
    """
    x = as_node(x)
    if x.ndim != 4:
        raise GraphError(f"global_avgpool: x {format_shape(x.shape)} must have rank 4 (N, H, W, C) (at {user_origin()})")
    return mean(x, axis=(1, 2))
