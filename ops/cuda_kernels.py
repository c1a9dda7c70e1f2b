"""numba.cuda kernels called through ``cuda_host`` by generated ``cuda`` code: the CUDA mirror of
``kernels.py``.

Each kernel is a pure function of arrays and ints (tuples of ints for rank-generic ones): the
output array is passed in, nothing is allocated. Arrays are C-contiguous device arrays; the copy
kernels take flat views and strides counted in elements. Grid-stride loops make every kernel
correct for any launch size; ``cuda_host.launch`` picks one. Kernels that reduce inside a block
(``matmul``, ``conv2d_weight_grad``) need ``blockDim.x`` a power of two of at most ``THREADS``.

Images are channels-last: x (N, H, W, C); conv weights (KH, KW, Cin, Cout). A convolution or
pooling window of output cell (i, j) starts at row ``i*sh - pt``, column ``j*sw - pl`` of the
unpadded input; rows and columns outside the input are padding (zeros for convolutions; never
counted by pools). The bottom and right padding only set the output size, read from ``out``.
"""
from __future__ import annotations

import math

import numpy as np
from numba import cuda

THREADS = 256  # the most threads of a block; a block reduction's tree has this many slots
TILE = 16      # the largest matmul tile: blocks of at most TILE x TILE threads


# --- helpers (device functions) -------------------------------------------------------------------
@cuda.jit(device=True, inline=True)
def _offset(q, shape, strides):
    """The element offset of flat index ``q`` (C order over ``shape``) in an array of ``strides``."""
    off = 0
    for d in range(len(shape) - 1, -1, -1):
        off += (q % shape[d]) * strides[d]
        q //= shape[d]
    return off


@cuda.jit(device=True, inline=True)
def _index4(f, a):
    """The (n, i, j, c) of element ``f`` of a 4-D C-ordered array ``a`` (its flat index)."""
    d1, d2, d3 = a.shape[1], a.shape[2], a.shape[3]
    c, q = f % d3, f // d3
    j, q = q % d2, q // d2
    return q // d1, q % d1, j, c


@cuda.jit(device=True)
def _block_sum(tree, t, value):
    """The sum of ``value`` over the threads of the block (a tree in shared memory ``tree``;
    ``blockDim.x`` a power of two), returned to every thread."""
    tree[t] = value
    cuda.syncthreads()
    s = cuda.blockDim.x // 2
    while s > 0:
        if t < s:
            tree[t] += tree[t + s]
        cuda.syncthreads()
        s //= 2
    total = tree[0]
    cuda.syncthreads()  # every thread has read the total before the tree is written again
    return total


@cuda.jit(device=True, inline=True)
def _wins(v, best):
    """Whether ``v``, met after ``best``, takes the lead: larger, or NaN (the first NaN stays)."""
    return best == best and (v > best or v != v)


@cuda.jit(device=True)
def _window_argmax(x, n, c, r0, c0, ph, pw):
    """(row, col) of the first maximum (row-major window order, NaN wins) of the window of
    ``x[n, :, :, c]`` with corner (r0, c0), cells outside ``x`` skipped; (-1, -1) if none is inside."""
    br, bc = -1, -1
    for r in range(max(r0, 0), min(r0 + ph, x.shape[1])):
        for q in range(max(c0, 0), min(c0 + pw, x.shape[2])):
            if br < 0 or _wins(x[n, r, q, c], x[n, br, bc, c]):
                br, bc = r, q
    return br, bc


@cuda.jit(device=True, inline=True)
def _windows(r, pad, size, stride, count):
    """The range [lo, hi) of the windows (along one axis) whose cells include input index ``r``."""
    first = r + pad - size + 1
    lo = 0 if first <= 0 else (first + stride - 1) // stride
    return lo, min((r + pad) // stride + 1, count)


# --- filling and copying --------------------------------------------------------------------------
@cuda.jit(cache=True)
def fill(out, value):
    """Every element of the flat array ``out`` set to ``value``."""
    for f in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        out[f] = value


@cuda.jit(cache=True)
def strided_copy(dst, dst_offset, dst_strides, src, src_offset, src_strides, shape, size):
    """``dst[dst_offset + idx . dst_strides] = src[src_offset + idx . src_strides]`` for each
    multi-index idx of ``shape`` (``size`` elements; flat arrays, strides in elements). One
    kernel for transposes (permuted strides), broadcasts (stride 0), slices (offset and step
    strides) and writes into a slice of a larger array (concatenate, getitem's adjoint)."""
    for f in range(cuda.grid(1), size, cuda.gridsize(1)):
        dst[dst_offset + _offset(f, shape, dst_strides)] = src[src_offset + _offset(f, shape, src_strides)]


# --- gathers ----------------------------------------------------------------------------------------
@cuda.jit(cache=True)
def take(x, idx, out):
    """``out[i, :] = x[idx[i], :]`` (x: (n, m), idx: (k,), out: (k, m)); negative indices count
    from the end; out-of-range indices are clamped (no exceptions on a GPU; JAX's convention)."""
    n, m = x.shape
    for f in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        i, j = f // m, f % m
        r = idx[i] + n if idx[i] < 0 else idx[i]
        out[i, j] = x[min(max(r, 0), n - 1), j]


@cuda.jit(cache=True)
def take_grad(ct, idx, out):
    """The adjoint of ``take``: ``out[idx[i], :] += ct[i, :]`` into a zeroed ``out``; rows that
    repeat in ``idx`` meet in ``out``, so the additions are atomic."""
    n, m = out.shape
    for f in range(cuda.grid(1), ct.size, cuda.gridsize(1)):
        i, j = f // m, f % m
        r = idx[i] + n if idx[i] < 0 else idx[i]
        cuda.atomic.add(out, (min(max(r, 0), n - 1), j), ct[i, j])


@cuda.jit(cache=True)
def argmax_mask(x, out, kept, kept_strides, red, red_strides, n_kept, n_red):
    """True in ``out`` at the first maximum (C order over the reduced axes; a NaN wins) of each
    slice of the flat ``x``: slice s starts at ``_offset(s, kept, kept_strides)``, its elements
    are at ``_offset(r, red, red_strides)`` from there. One thread per slice."""
    for s in range(cuda.grid(1), n_kept, cuda.gridsize(1)):
        base = _offset(s, kept, kept_strides)
        best = base
        for r in range(n_red):
            off = base + _offset(r, red, red_strides)
            out[off] = False
            if r > 0 and _wins(x[off], x[best]):
                best = off
        if n_red > 0:
            out[best] = True


@cuda.jit(cache=True)
def uniform(key, out):
    """``out[k]`` (flat) uniform in [0, 1): the splitmix64 hash of (key[0], k), the same bits as
    ``kernels.uniform_like``."""
    seed = np.uint64(key[0]) * np.uint64(0x9E3779B97F4A7C15)
    for k in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        z = seed + np.uint64(k + 1) * np.uint64(0xD1B54A32D192ED03)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
        if out.itemsize == 4:
            out[k] = np.float32(z >> np.uint64(40)) * np.float32(2.0 ** -24)
        else:
            out[k] = np.float64(z >> np.uint64(11)) * (2.0 ** -53)


# --- matrix product -----------------------------------------------------------------------------------
@cuda.jit(cache=True)
def matmul(a, b, out, batch, a_steps, b_steps, accumulate):
    """``out[z] = a[za] @ b[zb]`` (``+=`` when ``accumulate``) for each matrix z of the batch:
    a (Ba, M, K), b (Bb, K, N), out (B, M, N). ``batch`` is the output's batch shape;
    ``a_steps``/``b_steps`` give each operand's matrix stride per batch dim (0 where it
    broadcasts). Tiled: a block of t x t threads (t = blockDim.x <= TILE) computes a t x t tile
    of out, staging t x t tiles of a and b in shared memory, so each element of a and b is read
    from global memory M/t or N/t times instead of M or N; blockIdx.z walks the batch."""
    sa = cuda.shared.array((TILE, TILE), a.dtype)
    sb = cuda.shared.array((TILE, TILE), b.dtype)
    t = cuda.blockDim.x
    tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
    m, k, n = a.shape[1], a.shape[2], b.shape[2]
    row, col = cuda.blockIdx.y * t + ty, cuda.blockIdx.x * t + tx
    for z in range(cuda.blockIdx.z, out.shape[0], cuda.gridDim.z):
        za, zb = _offset(z, batch, a_steps), _offset(z, batch, b_steps)
        acc = out.dtype.type(0)
        for k0 in range(0, k, t):
            if row < m and k0 + tx < k:
                sa[ty, tx] = a[za, row, k0 + tx]
            else:
                sa[ty, tx] = 0
            if col < n and k0 + ty < k:
                sb[ty, tx] = b[zb, k0 + ty, col]
            else:
                sb[ty, tx] = 0
            cuda.syncthreads()
            for q in range(t):
                acc += sa[ty, q] * sb[q, tx]
            cuda.syncthreads()
        if row < m and col < n:
            out[z, row, col] = out[z, row, col] + acc if accumulate else acc


# --- the fused LSTM cell (gates i, f, g, o along z's columns; see lstm_kernels.py) ------------------
@cuda.jit(device=True, inline=True)
def _sigmoid(x, one):
    return one / (one + math.exp(-x))


@cuda.jit(cache=True)
def lstm_cell(z, c, h, c_new, a):
    """``c_new = f*c + i*g``, ``h = o*tanh(c_new)`` and the activated gates ``a = [i, f, g, o]``
    for z, a (N, 4H) and c, h, c_new (N, H); one thread per element of c."""
    n, units = c.shape
    one = c.dtype.type(1)  # float32 code stays float32
    for e in range(cuda.grid(1), n * units, cuda.gridsize(1)):
        r, j = e // units, e % units
        i, f = _sigmoid(z[r, j], one), _sigmoid(z[r, units + j], one)
        g, o = math.tanh(z[r, 2 * units + j]), _sigmoid(z[r, 3 * units + j], one)
        a[r, j], a[r, units + j], a[r, 2 * units + j], a[r, 3 * units + j] = i, f, g, o
        cn = f * c[r, j] + i * g
        c_new[r, j] = cn
        h[r, j] = o * math.tanh(cn)


@cuda.jit(cache=True)
def lstm_cell_grad(a, c, h_bar, c_bar, z_bar, c_prev):
    """The VJP of ``lstm_cell``: z_bar (N, 4H) and c_prev (N, H) from the cotangents of h and c',
    the activated gates a (N, 4H) and c; one thread per element of c."""
    n, units = c.shape
    one = c.dtype.type(1)
    for e in range(cuda.grid(1), n * units, cuda.gridsize(1)):
        r, j = e // units, e % units
        i, f, g, o = a[r, j], a[r, units + j], a[r, 2 * units + j], a[r, 3 * units + j]
        t = math.tanh(f * c[r, j] + i * g)
        d = c_bar[r, j] + h_bar[r, j] * o * (one - t * t)
        z_bar[r, j] = d * g * i * (one - i)
        z_bar[r, units + j] = d * c[r, j] * f * (one - f)
        z_bar[r, 2 * units + j] = d * i * (one - g * g)
        z_bar[r, 3 * units + j] = h_bar[r, j] * t * o * (one - o)
        c_prev[r, j] = d * f


# --- convolution (NHWC, cross-correlation) ---------------------------------------------------------
@cuda.jit(cache=True)
def conv2d(x, w, sh, sw, pt, pl, dh, dw, out):
    """``out[n,i,j,co] = sum_{m,p,ci} x[n, i*sh + m*dh - pt, j*sw + p*dw - pl, ci] * w[m,p,ci,co]``
    (x (N,H,W,Cin), w (KH,KW,Cin,Cout), out (N,OH,OW,Cout); cells outside x are zero). One
    thread per output element."""
    h, wd, cin = x.shape[1], x.shape[2], x.shape[3]
    for f in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        n, i, j, co = _index4(f, out)
        acc = out.dtype.type(0)
        for m in range(w.shape[0]):
            r = i * sh + m * dh - pt
            if 0 <= r < h:
                for p in range(w.shape[1]):
                    c = j * sw + p * dw - pl
                    if 0 <= c < wd:
                        for ci in range(cin):
                            acc += x[n, r, c, ci] * w[m, p, ci, co]
        out[n, i, j, co] = acc


@cuda.jit(cache=True)
def conv2d_input_grad(ct, w, sh, sw, pt, pl, dh, dw, dx):
    """The adjoint of ``conv2d`` in x (a transposed convolution): ``dx[n,r,c,ci]`` sums
    ``ct[n,i,j,co] * w[m,p,ci,co]`` over the taps (m, p) and output cells (i, j) with
    ``i*sh + m*dh - pt == r`` and ``j*sw + p*dw - pl == c``. ct (N,OH,OW,Cout), dx (N,H,W,Cin).
    One thread per element of dx, gathering: no atomics, the same sum order on every run."""
    oh, ow, cout = ct.shape[1], ct.shape[2], ct.shape[3]
    for f in range(cuda.grid(1), dx.size, cuda.gridsize(1)):
        n, r, c, ci = _index4(f, dx)
        acc = dx.dtype.type(0)
        for m in range(w.shape[0]):
            u = r + pt - m * dh
            if u >= 0 and u % sh == 0 and u // sh < oh:
                for p in range(w.shape[1]):
                    v = c + pl - p * dw
                    if v >= 0 and v % sw == 0 and v // sw < ow:
                        for co in range(cout):
                            acc += ct[n, u // sh, v // sw, co] * w[m, p, ci, co]
        dx[n, r, c, ci] = acc


@cuda.jit(cache=True)
def conv2d_weight_grad(x, ct, sh, sw, pt, pl, dh, dw, dw_out):
    """The adjoint of ``conv2d`` in w: ``dw_out[m,p,ci,co] = sum_{n,i,j} x[n, i*sh + m*dh - pt,
    j*sw + p*dw - pl, ci] * ct[n,i,j,co]``. A weight has few elements and each sums N*OH*OW
    products, so one block per weight element: its threads share the products, a tree in shared
    memory adds their partial sums (blockDim.x a power of two)."""
    tree = cuda.shared.array(THREADS, dw_out.dtype)
    t = cuda.threadIdx.x
    h, wd = x.shape[1], x.shape[2]
    nb, oh, ow = ct.shape[0], ct.shape[1], ct.shape[2]
    for e in range(cuda.blockIdx.x, dw_out.size, cuda.gridDim.x):
        m, p, ci, co = _index4(e, dw_out)
        acc = dw_out.dtype.type(0)
        for s in range(t, nb * oh * ow, cuda.blockDim.x):
            j, q2 = s % ow, s // ow
            i, n = q2 % oh, q2 // oh
            r, c = i * sh + m * dh - pt, j * sw + p * dw - pl
            if 0 <= r < h and 0 <= c < wd:
                acc += x[n, r, c, ci] * ct[n, i, j, co]
        total = _block_sum(tree, t, acc)
        if t == 0:
            dw_out[m, p, ci, co] = total


# --- pooling (NHWC) ---------------------------------------------------------------------------------
@cuda.jit(cache=True)
def maxpool2d(x, t, ph, pw, sh, sw, pt, pl, out):
    """``out[n,i,j,c]``: t at the maximum of x over the ph x pw window at (i*sh - pt, j*sw - pl)
    (t is x for the pooling itself; another t gives the pooling's JVP). Padded cells never win,
    a NaN does, the first maximum in row-major window order wins a tie; 0 for a window wholly in
    the padding. One thread per output element."""
    for f in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        n, i, j, c = _index4(f, out)
        r, s = _window_argmax(x, n, c, i * sh - pt, j * sw - pl, ph, pw)
        out[n, i, j, c] = t[n, r, s, c] if r >= 0 else out.dtype.type(0)


@cuda.jit(cache=True)
def maxpool2d_grad(x, ct, ph, pw, sh, sw, pt, pl, dx):
    """The adjoint of ``maxpool2d``: each window's cotangent goes to its winner (the first
    maximum in row-major window order; a NaN wins); overlapping windows add up. One thread per
    element of dx gathers from the windows that contain it (recomputing their winners): no
    atomics, no zero fill."""
    oh, ow = ct.shape[1], ct.shape[2]
    for f in range(cuda.grid(1), dx.size, cuda.gridsize(1)):
        n, r, s, c = _index4(f, dx)
        acc = dx.dtype.type(0)
        i_lo, i_hi = _windows(r, pt, ph, sh, oh)
        j_lo, j_hi = _windows(s, pl, pw, sw, ow)
        for i in range(i_lo, i_hi):
            for j in range(j_lo, j_hi):
                br, bc = _window_argmax(x, n, c, i * sh - pt, j * sw - pl, ph, pw)
                if br == r and bc == s:
                    acc += ct[n, i, j, c]
        dx[n, r, s, c] = acc


@cuda.jit(cache=True)
def avgpool2d(x, ph, pw, sh, sw, pt, pl, out):
    """``out[n,i,j,c]``: the mean of x over the cells of the window at (i*sh - pt, j*sw - pl)
    that lie inside x (padded cells are not counted); 0/0 (NaN) for a window wholly in the padding."""
    h, wd = x.shape[1], x.shape[2]
    for f in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        n, i, j, c = _index4(f, out)
        r0, c0 = i * sh - pt, j * sw - pl
        acc = out.dtype.type(0)
        for r in range(max(r0, 0), min(r0 + ph, h)):
            for s in range(max(c0, 0), min(c0 + pw, wd)):
                acc += x[n, r, s, c]
        count = (min(r0 + ph, h) - max(r0, 0)) * (min(c0 + pw, wd) - max(c0, 0))
        out[n, i, j, c] = acc / out.dtype.type(count)


@cuda.jit(cache=True)
def avgpool2d_grad(ct, ph, pw, sh, sw, pt, pl, dx):
    """The adjoint of ``avgpool2d``: each window's cotangent, divided by its count of inside
    cells, goes to each of them. One thread per element of dx gathers from its windows."""
    h, wd = dx.shape[1], dx.shape[2]
    oh, ow = ct.shape[1], ct.shape[2]
    for f in range(cuda.grid(1), dx.size, cuda.gridsize(1)):
        n, r, s, c = _index4(f, dx)
        acc = dx.dtype.type(0)
        i_lo, i_hi = _windows(r, pt, ph, sh, oh)
        j_lo, j_hi = _windows(s, pl, pw, sw, ow)
        for i in range(i_lo, i_hi):
            r0 = i * sh - pt
            rows = min(r0 + ph, h) - max(r0, 0)
            for j in range(j_lo, j_hi):
                c0 = j * sw - pl
                acc += ct[n, i, j, c] / dx.dtype.type(rows * (min(c0 + pw, wd) - max(c0, 0)))
        dx[n, r, s, c] = acc
