"""Host side of the ``cuda`` target: launch sizes, and one function per "call" primitive that
allocates its result on the device and launches the kernels of ``cuda_kernels``.

Generated ``cuda`` modules call these as ``_cu.name(...)``. Arrays are C-contiguous device arrays
(numba ``DeviceNDArray``); a computed rank-0 value is a device array of shape (1,). Nothing here
copies data between host and device, except ``scalar`` (a rank-0 result to the host) and the
scalar key of ``uniform`` written by a kernel.
"""
from __future__ import annotations

import math

import numpy as np
from numba import cuda

from . import cuda_kernels as K

BLOCKS = 8192      # the most blocks of a grid-stride launch (enough to fill any current GPU)
PER_THREAD = 4     # elements each thread of a reduction block should have at least
WANT_BLOCKS = 1024  # blocks a reduction aims at, splitting long reduced ranges into chunks


def _pow2(n: int) -> int:
    """The least power of two >= n (1 for n <= 1)."""
    return 1 << max(int(n) - 1, 0).bit_length()


def launch(n: int) -> tuple:
    """(blocks, threads) for a grid-stride kernel over ``n`` elements: as many threads as
    elements up to ``THREADS`` per block (a tiny array gets a tiny block)."""
    threads = max(1, min(K.THREADS, n))
    return min(max(1, -(-n // threads)), BLOCKS), threads


def chunks(kept: int, red: int) -> int:
    """How many blocks share the ``red`` elements reduced into each of ``kept`` results: one,
    unless there are few results to spread over the GPU and many elements for each."""
    return max(1, min(-(-red // (PER_THREAD * K.THREADS)), -(-WANT_BLOCKS // max(kept, 1)), 65535))


def reduce_launch(kept: int, red: int, parts: int) -> tuple:
    """((blocks over kept results, chunks), threads) for a fused reduction kernel: a power of two
    threads per block (the shared-memory tree halves them), no more than a chunk's elements."""
    return (min(max(kept, 1), BLOCKS), parts), _pow2(min(-(-red // parts), K.THREADS))


def partials(out, kept: int, parts: int):
    """Where a reduction kernel writes its (kept, parts) partial results: ``out`` itself when a
    single chunk covers each result, else a buffer that a second kernel combines into ``out``."""
    return out.reshape((kept, 1)) if parts == 1 else cuda.device_array((kept, parts), dtype=out.dtype)


def flat(a):
    return a.reshape((a.size,))


def scalar(a):
    """A rank-0 value held on the device (shape (1,)) as a host scalar (waits for the device)."""
    return a.copy_to_host()[0]


def _c_strides(shape) -> tuple:
    """Strides in elements of a C-contiguous array of ``shape``."""
    out, step = [], 1
    for d in reversed(shape):
        out.append(step)
        step *= d
    return tuple(reversed(out))


def _alloc(shape, dtype):
    """A device array of ``shape`` (rank 0: shape (1,))."""
    return cuda.device_array(tuple(shape) or (1,), dtype=dtype)


def full(shape, value, dtype):
    """A new device array of ``shape`` filled with ``value`` (by a kernel: no host copy)."""
    out = _alloc(shape, dtype)
    if out.size:
        K.fill[launch(out.size)](flat(out), np.dtype(dtype).type(value))
    return out


def _copy(dst, dst_offset, dst_strides, src, src_offset, src_strides, shape):
    """Elements of ``src`` at (offset, strides) over ``shape`` into ``dst`` at its (offset, strides)."""
    size = math.prod(shape)
    if size:
        shape, dst_strides, src_strides = (tuple(shape), tuple(dst_strides), tuple(src_strides)) if shape else ((1,), (0,), (0,))
        K.strided_copy[launch(size)](flat(dst), dst_offset, dst_strides, flat(src), src_offset, src_strides, shape, size)


def copy(a):
    """A new device array holding ``a``'s values."""
    out = _alloc(a.shape, a.dtype)
    _copy(out, 0, _c_strides(a.shape), a, 0, _c_strides(a.shape), a.shape)
    return out


def store(stack, t: int, y):
    """``stack[t] = y``: one step's result into a scan's stack (a rank-0 ``y``: shape (1,))."""
    row = math.prod(stack.shape[1:])
    _copy(stack, t * row, (1,), y, 0, (1,), (row,))


# --- shapes ---------------------------------------------------------------------------------------
def reshape(a, shape):
    """A view of ``a`` with ``shape`` (one -1 allowed; rank 0 is (1,))."""
    shape = tuple(shape)
    if -1 in shape:
        known = math.prod(d for d in shape if d != -1)
        shape = tuple(a.size // known if d == -1 else d for d in shape)
    return a.reshape(shape or (1,))


def transpose(a, perm):
    """A new array: ``a`` with its axes permuted."""
    if len(perm) < 2:
        return a
    shape = tuple(a.shape[p] for p in perm)
    src = _c_strides(a.shape)
    out = _alloc(shape, a.dtype)
    _copy(out, 0, _c_strides(shape), a, 0, [src[p] for p in perm], shape)
    return out


def broadcast_to(a, shape):
    """A new array of ``shape`` holding ``a`` broadcast (numpy rules)."""
    shape = tuple(shape)
    if not shape:
        return a
    lead = len(shape) - a.ndim
    src = _c_strides(a.shape)
    strides = [0] * lead + [0 if d == 1 and shape[lead + k] != 1 else src[k] for k, d in enumerate(a.shape)]
    out = _alloc(shape, a.dtype)
    _copy(out, 0, _c_strides(shape), a, 0, strides, shape)
    return out


def concatenate(arrays, axis: int):
    """A new array: ``arrays`` joined along ``axis``."""
    first = arrays[0]
    shape = list(first.shape)
    shape[axis] = sum(a.shape[axis] for a in arrays)
    out = _alloc(shape, first.dtype)
    dst, start = _c_strides(shape), 0
    for a in arrays:
        _copy(out, start * dst[axis], dst, a, 0, _c_strides(a.shape), a.shape)
        start += a.shape[axis]
    return out


def _region(shape, index) -> tuple:
    """(offset, strides, shape) in elements of the part of a C-contiguous array of ``shape``
    that a basic index selects (``getitem``'s entries: ("i", k) or ("s", start, stop, step))."""
    strides, offset, out_strides, out_shape = _c_strides(shape), 0, [], []
    for d, entry in enumerate(index):
        if entry[0] == "i":
            k = entry[1] + shape[d] if entry[1] < 0 else entry[1]
            if not 0 <= k < shape[d]:
                raise IndexError(f"getitem: index {entry[1]} is out of range for a dim of size {shape[d]}")
            offset += k * strides[d]
            continue
        start, stop, step = slice(*entry[1:]).indices(shape[d])
        offset += start * strides[d]
        out_shape.append(len(range(start, stop, step)))
        out_strides.append(strides[d] * step)
    rest = len(index)
    return offset, out_strides + list(strides[rest:]), out_shape + list(shape[rest:])


def getitem(a, index):
    """A new array: the part of ``a`` that ``index`` selects (rank 0: shape (1,))."""
    offset, strides, shape = _region(a.shape, index)
    out = _alloc(shape, a.dtype)
    _copy(out, 0, _c_strides(shape), a, offset, strides, shape)
    return out


def getitem_grad(ct, like, index):
    """The adjoint of ``getitem``: zeros shaped like ``like`` with ``ct`` in the selected part."""
    out = full(like.shape, 0, like.dtype)
    offset, strides, shape = _region(like.shape, index)
    _copy(out, offset, strides, ct, 0, _c_strides(shape), shape)
    return out


def take(x, idx, idx_rank: int):
    """Rows ``idx`` (any shape, of rank ``idx_rank``) of ``x`` along axis 0."""
    rows, row = x.shape[0], math.prod(x.shape[1:])
    if rows == 0 and idx.size:
        raise IndexError("take: cannot take rows of an empty array")
    out = _alloc(tuple(idx.shape[:idx_rank]) + tuple(x.shape[1:]), x.dtype)
    if out.size:
        K.take[launch(out.size)](x.reshape((rows, row)), flat(idx), out.reshape((idx.size, row)))
    return out


def take_grad(ct, idx, like):
    """The adjoint of ``take``: rows of ``ct`` added into zeros shaped like ``like``."""
    out = full(like.shape, 0, like.dtype)
    rows, row = like.shape[0], math.prod(like.shape[1:])
    if ct.size:
        K.take_grad[launch(ct.size)](ct.reshape((idx.size, row)), flat(idx), out.reshape((rows, row)))
    return out


def argmax_mask(x, axes):
    """Bool array shaped like ``x``: True at the first maximum of each slice over ``axes``."""
    strides = _c_strides(x.shape)
    kept = [k for k in range(x.ndim) if k not in axes]
    out = _alloc(x.shape, np.bool_)
    shape_k = tuple(x.shape[k] for k in kept) or (1,)
    strides_k = tuple(strides[k] for k in kept) or (0,)
    shape_r = tuple(x.shape[k] for k in axes) or (1,)
    strides_r = tuple(strides[k] for k in axes) or (0,)
    n_kept = math.prod(shape_k)
    K.argmax_mask[launch(n_kept)](flat(x), flat(out), shape_k, strides_k, shape_r, strides_r,
                                  n_kept, math.prod(x.shape[k] for k in axes))
    return out


def uniform(key, like):
    """Uniform numbers in [0, 1) shaped like ``like`` from the int64 ``key`` (a (1,) device array)."""
    out = _alloc(like.shape, like.dtype)
    if out.size:
        K.uniform[launch(out.size)](key, flat(out))
    return out


# --- matrix product ---------------------------------------------------------------------------------
def _batch_steps(batch_of, batch) -> tuple:
    """Matrix strides of an operand with batch shape ``batch_of`` for each dim of the broadcast
    ``batch`` shape (0 where the operand has no such dim or broadcasts it)."""
    lead = len(batch) - len(batch_of)
    steps, step = [0] * len(batch), 1
    for k in range(len(batch_of) - 1, -1, -1):
        if batch_of[k] != 1:
            steps[lead + k] = step
        step *= batch_of[k]
    return tuple(steps)


def matmul(a, b, out=None):
    """A new array: numpy's matmul of a (..., M, K) and b (..., K, N), batch dims broadcast;
    given ``out`` (of the product's shape), the product is added into it instead."""
    sa, sb = tuple(a.shape), tuple(b.shape)  # plain tuples (the simulator's shapes refuse index -1)
    m, k, n = sa[-2], sa[-1], sb[-1]
    batch = tuple(np.broadcast_shapes(sa[:-2], sb[:-2]))
    accumulate = out is not None
    if out is None:
        out = _alloc(batch + (m, n), a.dtype)
    if out.size == 0:
        return out
    tile = min(K.TILE, _pow2(min(m, n)))  # a skinny product gets small tiles, not idle threads
    a3, b3 = a.reshape((-1, m, k)), b.reshape((-1, k, n))
    grid = (-(-n // tile), -(-m // tile), min(math.prod(batch), 65535))
    K.matmul[grid, (tile, tile)](a3, b3, out.reshape((-1, m, n)), batch or (1,),
                                 _batch_steps(sa[:-2], batch) or (0,), _batch_steps(sb[:-2], batch) or (0,),
                                 accumulate)
    return out


def matmul_add(c, a, b):
    """A new array: c + a @ b for matrices (c of the product's shape)."""
    return matmul(a, b, copy(c))


# --- the fused LSTM cell --------------------------------------------------------------------------------
def lstm_cell(z, c):
    """(h, c', a) of the LSTM cell for z (N, 4H) and c (N, H), a the activated gates (N, 4H)."""
    h, c_new, a = _alloc(c.shape, c.dtype), _alloc(c.shape, c.dtype), _alloc(z.shape, z.dtype)
    if c.size:
        K.lstm_cell[launch(c.size)](z, c, h, c_new, a)
    return h, c_new, a


def lstm_cell_grad(a, c, h_bar, c_bar):
    """(z_bar, c_bar_prev): the VJP of ``lstm_cell``, from its activated gates a."""
    z_bar, c_prev = _alloc(a.shape, a.dtype), _alloc(c.shape, c.dtype)
    if c.size:
        K.lstm_cell_grad[launch(c.size)](a, c, h_bar, c_bar, z_bar, c_prev)
    return z_bar, c_prev


# --- convolution and pooling (NHWC) ------------------------------------------------------------------
def conv_out_size(size: int, k: int, stride: int, pad: tuple, dilation: int) -> int:
    """Output length along one axis: floor((size + pad0 + pad1 - dilation*(k-1) - 1) / stride) + 1."""
    return (size + pad[0] + pad[1] - dilation * (k - 1) - 1) // stride + 1


def conv2d(x, w, strides, padding, dilation):
    """Cross-correlation of x (N,H,W,Cin) with w (KH,KW,Cin,Cout): (N,OH,OW,Cout).
    ``padding`` is ((top, bottom), (left, right))."""
    (sh, sw), ((pt, pb), (pl, pr)), (dh, dw) = strides, padding, dilation
    oh = conv_out_size(x.shape[1], w.shape[0], sh, (pt, pb), dh)
    ow = conv_out_size(x.shape[2], w.shape[1], sw, (pl, pr), dw)
    out = _alloc((x.shape[0], oh, ow, w.shape[3]), x.dtype)
    if out.size:
        K.conv2d[launch(out.size)](x, w, sh, sw, pt, pl, dh, dw, out)
    return out


def conv2d_input_grad(ct, w, input_hw, strides, padding, dilation):
    """The adjoint of ``conv2d`` in x: (N,H,W,Cin) from ct (N,OH,OW,Cout), ``input_hw`` = (H, W)."""
    (sh, sw), ((pt, _), (pl, _)), (dh, dw) = strides, padding, dilation
    dx = _alloc((ct.shape[0],) + tuple(input_hw) + (w.shape[2],), ct.dtype)
    if dx.size:
        K.conv2d_input_grad[launch(dx.size)](ct, w, sh, sw, pt, pl, dh, dw, dx)
    return dx


def conv2d_weight_grad(x, ct, kernel_hw, strides, padding, dilation):
    """The adjoint of ``conv2d`` in w: (KH,KW,Cin,Cout) from x and ct; one block per element."""
    (sh, sw), ((pt, _), (pl, _)), (dh, dw) = strides, padding, dilation
    dw_out = _alloc(tuple(kernel_hw) + (x.shape[3], ct.shape[3]), x.dtype)
    if dw_out.size:
        threads = _pow2(min(ct.shape[0] * ct.shape[1] * ct.shape[2], K.THREADS))
        K.conv2d_weight_grad[min(dw_out.size, BLOCKS), threads](x, ct, sh, sw, pt, pl, dh, dw, dw_out)
    return dw_out


def _pool_out(x, pool, strides, padding) -> tuple:
    (ph, pw), (sh, sw), ((pt, pb), (pl, pr)) = pool, strides, padding
    return (x.shape[0], conv_out_size(x.shape[1], ph, sh, (pt, pb), 1),
            conv_out_size(x.shape[2], pw, sw, (pl, pr), 1), x.shape[3])


def maxpool2d(x, pool, strides, padding):
    """Maximum over ``pool`` windows of x (N,H,W,C); padded cells never win."""
    return maxpool2d_gather(x, x, pool, strides, padding)


def maxpool2d_gather(x, t, pool, strides, padding):
    """t (shaped like x) at each ``pool`` window's maximum of x (the JVP of ``maxpool2d``)."""
    out = _alloc(_pool_out(x, pool, strides, padding), t.dtype)
    if out.size:
        K.maxpool2d[launch(out.size)](x, t, *pool, *strides, padding[0][0], padding[1][0], out)
    return out


def maxpool2d_grad(x, ct, pool, strides, padding):
    """The adjoint of ``maxpool2d``: ct routed to each window's first maximum."""
    dx = _alloc(x.shape, x.dtype)
    if dx.size:
        K.maxpool2d_grad[launch(dx.size)](x, ct, *pool, *strides, padding[0][0], padding[1][0], dx)
    return dx


def avgpool2d(x, pool, strides, padding):
    """Mean over ``pool`` windows of x (N,H,W,C), padded cells not counted."""
    out = _alloc(_pool_out(x, pool, strides, padding), x.dtype)
    if out.size:
        K.avgpool2d[launch(out.size)](x, *pool, *strides, padding[0][0], padding[1][0], out)
    return out


def avgpool2d_grad(ct, input_hw, pool, strides, padding):
    """The adjoint of ``avgpool2d``: (N,H,W,C) from ct, ``input_hw`` = (H, W)."""
    dx = _alloc((ct.shape[0],) + tuple(input_hw) + (ct.shape[3],), ct.dtype)
    if dx.size:
        K.avgpool2d_grad[launch(dx.size)](ct, *pool, *strides, padding[0][0], padding[1][0], dx)
    return dx
