"""Kernels of convolution and pooling over channels-last images: numpy references (the reference
interpreter and the ``numpy`` target) and numba kernels (the ``cpu`` target).

Notation: x (N, H, W, C), w (KH, KW, Cin, Cout); a window starts at ``i*sh - pt`` (rows) and
``j*sw - pl`` (columns) of the unpadded image; tap (m, p) of output (i, j) reads row
``i*sh + m*dh - pt``, column ``j*sw + p*dw - pl``, zero (conv) or absent (pooling) outside.

Convolutions are im2col + BLAS GEMM: a chunk of output rows is unfolded into ``cols`` (one row
per output pixel, KH*KW*Cin taps, laid out as w's first three axes), multiplied by w as a
(KH*KW*Cin, Cout) matrix, and the chunk buffer is reused. The chunk is sized to stay in the L2
cache (``CHUNK_ELEMENTS``): unfolding the whole batch at once pays a page fault per 4 KB of a
fresh buffer and leaves the cache before the GEMM reads it. Accumulation stays in the input
dtype (BLAS sgemm for float32). With stride 1 and few input channels (the first layer of a CNN:
one channel, where each copy of ``_im2col`` is a run of only kw values), the forward convolution
and the kernel gradient unfold "wide" instead (``_wide_cols``). Pooling kernels are direct
loops, vectorized over channels; 2x2 windows of stride 2 have their own.

They take arrays and ints only, so generated modules that call them cache on disk; the compiler's
cache key includes a hash of this file's source.
"""
from __future__ import annotations

import numba
import numpy as np

CHUNK_ELEMENTS = 1 << 15  # of the im2col buffer (128 KB in float32) ...
MIN_PIXELS = 512  # ... unless the GEMM would get fewer rows than this


# --- numpy references ---------------------------------------------------------------------------
def _taps(start, count, stride):
    """The slice of a padded axis that tap ``start`` reads for ``count`` outputs."""
    return slice(start, start + (count - 1) * stride + 1, stride)


def out_size(size, k, stride, pad, dilation=1):
    """Outputs along one axis: floor((size + pads - dilation*(k-1) - 1) / stride) + 1."""
    return (size + pad[0] + pad[1] - dilation * (k - 1) - 1) // stride + 1


def _pad(x, padding, value=0):
    return np.pad(x, ((0, 0), padding[0], padding[1], (0, 0)), constant_values=value)


def conv2d_np(x, w, strides, padding, dilation):
    """Cross-correlation, one matrix product per kernel tap."""
    (sh, sw), (dh, dw) = strides, dilation
    kh, kw = w.shape[:2]
    oh, ow = out_size(x.shape[1], kh, sh, padding[0], dh), out_size(x.shape[2], kw, sw, padding[1], dw)
    xp = _pad(x, padding)
    out = np.zeros((x.shape[0], oh, ow, w.shape[3]), dtype=x.dtype)
    for m in range(kh):
        for p in range(kw):
            out += xp[:, _taps(m * dh, oh, sh), _taps(p * dw, ow, sw)] @ w[m, p]
    return out


def conv2d_input_grad_np(ct, w, input_hw, strides, padding, dilation):
    """The transposed convolution: each tap adds ``ct @ w[m, p].T`` where it read its input."""
    (sh, sw), (dh, dw), ((pt, pb), (pl, pr)) = strides, dilation, padding
    n, oh, ow = ct.shape[:3]
    h, wd = input_hw
    dxp = np.zeros((n, h + pt + pb, wd + pl + pr, w.shape[2]), dtype=ct.dtype)
    for m in range(w.shape[0]):
        for p in range(w.shape[1]):
            dxp[:, _taps(m * dh, oh, sh), _taps(p * dw, ow, sw)] += ct @ w[m, p].T
    return dxp[:, pt:pt + h, pl:pl + wd]


def conv2d_weight_grad_np(x, ct, kernel_hw, strides, padding, dilation):
    """Per tap, the input pixels it read against the output cotangent: (Cin, Cout) each."""
    (sh, sw), (dh, dw) = strides, dilation
    oh, ow = ct.shape[1:3]
    xp = _pad(x, padding)
    out = np.empty(tuple(kernel_hw) + (x.shape[3], ct.shape[3]), dtype=x.dtype)
    for m in range(kernel_hw[0]):
        for p in range(kernel_hw[1]):
            patch = xp[:, _taps(m * dh, oh, sh), _taps(p * dw, ow, sw)]
            out[m, p] = np.tensordot(patch, ct, axes=([0, 1, 2], [0, 1, 2]))
    return out


def maxpool2d_argmax_np(x, pool, strides, padding):
    """The tap (m * pool_w + p) of each window's maximum: the first in row-major order, a NaN
    winning; padded cells never win."""
    (sh, sw), (ph, pw) = strides, pool
    oh, ow = out_size(x.shape[1], ph, sh, padding[0]), out_size(x.shape[2], pw, sw, padding[1])
    xp = _pad(x, padding)
    valid = _pad(np.ones((1,) + x.shape[1:3] + (1,), dtype=bool), padding, False)
    best = np.zeros((x.shape[0], oh, ow, x.shape[3]), dtype=x.dtype)
    arg = np.zeros(best.shape, dtype=np.int64)
    found = np.zeros(best.shape, dtype=bool)
    for m in range(ph):
        for p in range(pw):
            rows, cols = _taps(m, oh, sh), _taps(p, ow, sw)
            v = xp[:, rows, cols]
            take = valid[:, rows, cols] & (~found | (~np.isnan(best) & ((v > best) | np.isnan(v))))
            best = np.where(take, v, best)
            arg = np.where(take, m * pw + p, arg)
            found |= take
    return arg


def maxpool2d_np(x, pool, strides, padding):
    return maxpool2d_gather_np(x, x, pool, strides, padding)


def maxpool2d_gather_np(x, t, pool, strides, padding):
    """``t`` at each window's maximum of ``x``."""
    arg = maxpool2d_argmax_np(x, pool, strides, padding)
    (sh, sw), (ph, pw) = strides, pool
    tp = _pad(t, padding)
    out = np.zeros(arg.shape, dtype=t.dtype)
    for m in range(ph):
        for p in range(pw):
            out = np.where(arg == m * pw + p, tp[:, _taps(m, arg.shape[1], sh), _taps(p, arg.shape[2], sw)], out)
    return out


def maxpool2d_grad_np(x, ct, pool, strides, padding):
    """Each window's cotangent added at its maximum."""
    arg = maxpool2d_argmax_np(x, pool, strides, padding)
    (sh, sw), (ph, pw), ((pt, pb), (pl, pr)) = strides, pool, padding
    n, h, wd, c = x.shape
    dxp = np.zeros((n, h + pt + pb, wd + pl + pr, c), dtype=ct.dtype)
    for m in range(ph):
        for p in range(pw):
            dxp[:, _taps(m, ct.shape[1], sh), _taps(p, ct.shape[2], sw)] += np.where(arg == m * pw + p, ct, 0)
    return dxp[:, pt:pt + h, pl:pl + wd]


def _window_counts(hw, pool, strides, padding, dtype):
    """(1, OH, OW, 1): how many cells of each window lie inside the image."""
    ones = np.ones((1,) + tuple(hw) + (1,), dtype=dtype)
    return _window_sum_np(ones, pool, strides, padding)


def _window_sum_np(x, pool, strides, padding):
    (sh, sw), (ph, pw) = strides, pool
    oh, ow = out_size(x.shape[1], ph, sh, padding[0]), out_size(x.shape[2], pw, sw, padding[1])
    xp = _pad(x, padding)
    out = np.zeros((x.shape[0], oh, ow, x.shape[3]), dtype=x.dtype)
    for m in range(ph):
        for p in range(pw):
            out += xp[:, _taps(m, oh, sh), _taps(p, ow, sw)]
    return out


def avgpool2d_np(x, pool, strides, padding):
    """The mean of each window over the cells inside the image (padding is not counted)."""
    return _window_sum_np(x, pool, strides, padding) / _window_counts(x.shape[1:3], pool, strides, padding, x.dtype)


def avgpool2d_grad_np(ct, input_hw, pool, strides, padding):
    (sh, sw), (ph, pw), ((pt, pb), (pl, pr)) = strides, pool, padding
    h, wd = input_hw
    g = ct / _window_counts(input_hw, pool, strides, padding, ct.dtype)
    dxp = np.zeros((ct.shape[0], h + pt + pb, wd + pl + pr, ct.shape[3]), dtype=ct.dtype)
    for m in range(ph):
        for p in range(pw):
            dxp[:, _taps(m, ct.shape[1], sh), _taps(p, ct.shape[2], sw)] += g
    return dxp[:, pt:pt + h, pl:pl + wd]


# --- numba: convolution ---------------------------------------------------------------------------
@numba.njit(cache=True)
def _chunk_rows(ow, k, rows):
    """Output rows (of ``ow`` pixels, ``k`` taps each) per im2col chunk."""
    return max(1, min(rows, max(MIN_PIXELS // max(1, ow), CHUNK_ELEMENTS // max(1, ow * k))))


@numba.njit(cache=True)
def _im2col(x, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow, q0, q1, cols):
    """Output rows q0..q1 (q = n * oh + i) unfolded: ``cols[(q - q0) * ow + j, (m * kw + p) * C + ci]``
    = x[n, i*sh + m*dh - pt, j*sw + p*dw - pl, ci], 0 in the padding. With dw == 1 a window row is
    one contiguous run of kw * C values of x (views keep the indices non-negative: the copy
    loops vectorize)."""
    h, w, c = x.shape[1], x.shape[2], x.shape[3]
    seg = kw * c
    for q in range(q0, q1):
        n, i = q // oh, q % oh
        r0 = (q - q0) * ow
        for m in range(kh):
            ii = i * sh + m * dh - pt
            if ii < 0 or ii >= h:
                for j in range(ow):
                    cols[r0 + j, m * seg:(m + 1) * seg] = 0
                continue
            xrow = x[n, ii].reshape(-1)
            for j in range(ow):
                d = cols[r0 + j, m * seg:(m + 1) * seg]
                j0 = j * sw - pl
                if dw == 1 and j0 >= 0 and j0 + kw <= w:
                    s = xrow[j0 * c:j0 * c + seg]
                    for t in range(seg):
                        d[t] = s[t]
                    continue
                for p in range(kw):
                    jj = j0 + p * dw
                    dp = d[p * c:(p + 1) * c]
                    if jj < 0 or jj >= w:
                        dp[:] = 0
                    else:
                        s = xrow[jj * c:(jj + 1) * c]
                        for t in range(c):
                            dp[t] = s[t]


@numba.njit(cache=True)
def _col2im(dcols, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow, q0, q1, dx):
    """The adjoint of ``_im2col``: adds each row of ``dcols`` where its patch was read."""
    h, w, c = dx.shape[1], dx.shape[2], dx.shape[3]
    seg = kw * c
    for q in range(q0, q1):
        n, i = q // oh, q % oh
        r0 = (q - q0) * ow
        for m in range(kh):
            ii = i * sh + m * dh - pt
            if ii < 0 or ii >= h:
                continue
            xrow = dx[n, ii].reshape(-1)
            for j in range(ow):
                s = dcols[r0 + j, m * seg:(m + 1) * seg]
                j0 = j * sw - pl
                if dw == 1 and j0 >= 0 and j0 + kw <= w:
                    d = xrow[j0 * c:j0 * c + seg]
                    for t in range(seg):
                        d[t] += s[t]
                    continue
                for p in range(kw):
                    jj = j0 + p * dw
                    if 0 <= jj < w:
                        d = xrow[jj * c:(jj + 1) * c]
                        sp = s[p * c:(p + 1) * c]
                        for t in range(c):
                            d[t] += sp[t]


WIDE_CHANNELS = 8  # the most input channels that the wide unfolding takes


@numba.njit(cache=True)
def _is_wide(c, sh, sw, ow, wp):
    """Whether to unfold wide: stride 1, few input channels, at most half of the columns wasted."""
    return sh == 1 and sw == 1 and c <= WIDE_CHANNELS and wp <= 2 * ow


@numba.njit(cache=True)
def _wide_cols(x, b0, b1, kh, kw, pt, pl, dh, dw, wp, planes, cols):
    """Images b0..b1 unfolded wide and transposed, for stride 1: output pixel (i, j) of image b is
    column ``(b - b0) * L + i * wp + j`` of ``cols`` (L = OH * wp), whose row ``(m * kw + p) * C + ci``
    is channel ci of the zero-padded image (``planes``: rows of wp cells) shifted by
    ``m * dh * wp + p * dw`` cells. That is one contiguous copy of L values per tap and image, where
    ``_im2col`` copies runs of kw * C values; the price is the wp - OW columns j >= OW of each row,
    computed and thrown away (or multiplying zeros). ``planes`` (B, C, HP * wp + (kw - 1) * dw)
    holds zeros in the padding and past the end, which nothing here writes."""
    h, wd, c = x.shape[1], x.shape[2], x.shape[3]
    L = cols.shape[1] // (b1 - b0)
    for b in range(b1 - b0):
        for ci in range(c):
            plane = planes[b, ci]
            for ii in range(h):
                d, s = plane[(ii + pt) * wp + pl:(ii + pt) * wp + pl + wd], x[b0 + b, ii, :, ci]
                for jj in range(wd):
                    d[jj] = s[jj]
        for m in range(kh):
            for p in range(kw):
                for ci in range(c):
                    shift = m * dh * wp + p * dw
                    s, d = planes[b, ci, shift:shift + L], cols[(m * kw + p) * c + ci, b * L:(b + 1) * L]
                    for t in range(L):
                        d[t] = s[t]


@numba.njit(cache=True)
def _wide_images(n, k, L):
    """Images per chunk of the wide unfolding (k * L values each)."""
    return max(1, min(n, CHUNK_ELEMENTS // max(1, k * L)))


@numba.njit(cache=True)
def _conv2d_fwd_wide(x, w, pt, pl, dh, dw, hp, wp, oh, ow):
    n, c = x.shape[0], x.shape[3]
    kh, kw, _, co = w.shape
    k, L = kh * kw * c, oh * wp
    w2 = w.reshape((k, co))
    nb = _wide_images(n, k, L)
    planes = np.zeros((nb, c, hp * wp + (kw - 1) * dw), dtype=x.dtype)
    buf = np.empty(k * nb * L, dtype=x.dtype)
    wide = np.empty((nb * L, co), dtype=x.dtype)
    out = np.empty((n, oh, ow, co), dtype=x.dtype)
    for b0 in range(0, n, nb):
        b1 = min(n, b0 + nb)
        cols = buf[:k * (b1 - b0) * L].reshape((k, (b1 - b0) * L))
        _wide_cols(x, b0, b1, kh, kw, pt, pl, dh, dw, wp, planes, cols)
        res = wide[:(b1 - b0) * L]
        np.dot(cols.T, w2, res)
        for b in range(b1 - b0):
            for i in range(oh):
                s, d = res[b * L + i * wp:b * L + i * wp + ow].reshape(-1), out[b0 + b, i].reshape(-1)
                for t in range(ow * co):
                    d[t] = s[t]
    return out


@numba.njit(cache=True)
def _conv2d_bwd_weight_wide(x, ct, kh, kw, pt, pl, dh, dw):
    n, c = x.shape[0], x.shape[3]
    oh, ow, co = ct.shape[1], ct.shape[2], ct.shape[3]
    hp, wp = oh + dh * (kh - 1), ow + dw * (kw - 1)  # the padded input (stride 1)
    k, L = kh * kw * c, oh * wp
    nb = _wide_images(n, k, L)
    planes = np.zeros((nb, c, hp * wp + (kw - 1) * dw), dtype=x.dtype)
    buf = np.empty(k * nb * L, dtype=x.dtype)
    wide = np.zeros((nb * L, co), dtype=x.dtype)  # the cotangent, 0 in the thrown-away columns
    acc = np.zeros((k, co), dtype=x.dtype)
    part = np.empty((k, co), dtype=x.dtype)
    for b0 in range(0, n, nb):
        b1 = min(n, b0 + nb)
        cols = buf[:k * (b1 - b0) * L].reshape((k, (b1 - b0) * L))
        _wide_cols(x, b0, b1, kh, kw, pt, pl, dh, dw, wp, planes, cols)
        for b in range(b1 - b0):
            for i in range(oh):
                s, d = ct[b0 + b, i].reshape(-1), wide[b * L + i * wp:b * L + i * wp + ow].reshape(-1)
                for t in range(ow * co):
                    d[t] = s[t]
        np.dot(cols, wide[:(b1 - b0) * L], part)
        for r in range(k):
            for o in range(co):
                acc[r, o] += part[r, o]
    return acc.reshape((kh, kw, c, co))


@numba.njit(cache=True)
def conv2d_fwd(x, w, sh, sw, pt, pb, pl, pr, dh, dw):
    """Cross-correlation of x (N, H, W, Cin) with w (KH, KW, Cin, Cout): (N, OH, OW, Cout)."""
    n, h, wd, c = x.shape
    kh, kw, _, co = w.shape
    oh = (h + pt + pb - dh * (kh - 1) - 1) // sh + 1
    ow = (wd + pl + pr - dw * (kw - 1) - 1) // sw + 1
    if _is_wide(c, sh, sw, ow, wd + pl + pr):
        return _conv2d_fwd_wide(x, w, pt, pl, dh, dw, h + pt + pb, wd + pl + pr, oh, ow)
    k = kh * kw * c
    out = np.empty((n * oh * ow, co), dtype=x.dtype)
    w2 = w.reshape((k, co))
    step = _chunk_rows(ow, k, n * oh)
    buf = np.empty((step * ow, k), dtype=x.dtype)
    for q0 in range(0, n * oh, step):
        q1 = min(n * oh, q0 + step)
        cols = buf[:(q1 - q0) * ow]
        _im2col(x, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow, q0, q1, cols)
        np.dot(cols, w2, out[q0 * ow:q1 * ow])  # (out= also spares numba seconds of typing a slice store)
    return out.reshape((n, oh, ow, co))


@numba.njit(cache=True)
def conv2d_bwd_input(ct, w, h, wd, sh, sw, pt, pl, dh, dw):
    """The transposed convolution: the cotangent (N, OH, OW, Cout) of conv2d_fwd sent back to its
    input (N, h, wd, Cin)."""
    n, oh, ow, co = ct.shape
    kh, kw, c, _ = w.shape
    k = kh * kw * c
    dx = np.zeros((n, h, wd, c), dtype=ct.dtype)
    ct2 = ct.reshape((n * oh * ow, co))
    wt = w.reshape((k, co)).T
    step = _chunk_rows(ow, k, n * oh)
    for q0 in range(0, n * oh, step):
        q1 = min(n * oh, q0 + step)
        _col2im(np.dot(ct2[q0 * ow:q1 * ow], wt), kh, kw, sh, sw, pt, pl, dh, dw, oh, ow, q0, q1, dx)
    return dx


@numba.njit(cache=True)
def conv2d_bwd_weight(x, ct, kh, kw, sh, sw, pt, pl, dh, dw):
    """The cotangent (N, OH, OW, Cout) of conv2d_fwd sent back to its kernel (kh, kw, Cin, Cout)."""
    n, h, wd, c = x.shape
    oh, ow, co = ct.shape[1], ct.shape[2], ct.shape[3]
    if _is_wide(c, sh, sw, ow, ow + dw * (kw - 1)):
        return _conv2d_bwd_weight_wide(x, ct, kh, kw, pt, pl, dh, dw)
    k = kh * kw * c
    acc = np.zeros((k, co), dtype=x.dtype)
    part = np.empty((k, co), dtype=x.dtype)
    ct2 = ct.reshape((n * oh * ow, co))
    step = _chunk_rows(ow, k, n * oh)
    buf = np.empty((step * ow, k), dtype=x.dtype)
    for q0 in range(0, n * oh, step):
        q1 = min(n * oh, q0 + step)
        cols = buf[:(q1 - q0) * ow]
        _im2col(x, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow, q0, q1, cols)
        np.dot(cols.T, ct2[q0 * ow:q1 * ow], part)
        for r in range(k):
            for o in range(co):
                acc[r, o] += part[r, o]
    return acc.reshape((kh, kw, c, co))


# --- numba: pooling -------------------------------------------------------------------------------
@numba.njit(cache=True)
def _window(i, stride, pad, k, size):
    """(first cell, first valid tap, end of valid taps) of window ``i`` along one axis."""
    start = i * stride - pad
    return start, max(0, -start), min(k, size - start)


@numba.njit(cache=True, inline="always")
def _wins(v, cur):
    """Whether ``v`` replaces the maximum so far ``cur``: greater, or the first NaN. A select, not
    a branch: on random data a branch mispredicts, and the window loops cost three times as much."""
    return (v > cur) | ((v != v) & (cur == cur))


@numba.njit(cache=True)
def _tiles_2x2(ph, pw, sh, sw, pt, pl, h, wd, oh, ow):
    """Whether the windows are the 2x2 tiles of stride 2 from the top left corner, all inside the
    image (its last row and column are left out when odd): the common pooling, done by
    ``_maxpool2x2_*`` with the four taps unrolled. The general loops run a two-step tap loop per
    channel, which costs three times as much with few channels (LeNet's 6)."""
    return ph == 2 and pw == 2 and sh == 2 and sw == 2 and pt == 0 and pl == 0 and 2 * oh <= h and 2 * ow <= wd


@numba.njit(cache=True, inline="always")
def _winner_2x2(a0, a1, a2, a3):
    """The maximum of taps a0 a1 / a2 a3 (a NaN wins) and whether it lies in the second row and in
    the second column. Each row's winner, then the rows': the first in row-major order, as the
    scan over the taps finds it."""
    right0, right1 = _wins(a1, a0), _wins(a3, a2)
    r0, r1 = a1 if right0 else a0, a3 if right1 else a2
    low = _wins(r1, r0)
    return (r1 if low else r0), low, (right1 if low else right0)


@numba.njit(cache=True)
def _maxpool2x2_fwd(x, oh, ow):
    n, c = x.shape[0], x.shape[3]
    out = np.empty((n, oh, ow, c), dtype=x.dtype)
    for b in range(n):
        for i in range(oh):
            x0, x1, o = x[b, 2 * i].reshape(-1), x[b, 2 * i + 1].reshape(-1), out[b, i].reshape(-1)
            for j in range(ow):
                e = 2 * j * c
                for ch in range(c):
                    o[j * c + ch] = _winner_2x2(x0[e + ch], x0[e + c + ch], x1[e + ch], x1[e + c + ch])[0]
    return out


@numba.njit(cache=True)
def _maxpool2x2_bwd(x, ct):
    n, h, wd, c = x.shape
    oh, ow = ct.shape[1], ct.shape[2]
    # every cell of a tile is written (the cotangent or 0): only an odd last row or column needs zeros
    dx = np.empty(x.shape, dtype=ct.dtype) if 2 * oh == h and 2 * ow == wd else np.zeros(x.shape, dtype=ct.dtype)
    for b in range(n):
        for i in range(oh):
            x0, x1, g = x[b, 2 * i].reshape(-1), x[b, 2 * i + 1].reshape(-1), ct[b, i].reshape(-1)
            d0, d1 = dx[b, 2 * i].reshape(-1), dx[b, 2 * i + 1].reshape(-1)
            for j in range(ow):
                e = 2 * j * c
                for ch in range(c):
                    _, low, right = _winner_2x2(x0[e + ch], x0[e + c + ch], x1[e + ch], x1[e + c + ch])
                    v = g[j * c + ch]
                    zero = v - v
                    d0[e + ch] = zero if low or right else v
                    d0[e + c + ch] = v if right and not low else zero
                    d1[e + ch] = v if low and not right else zero
                    d1[e + c + ch] = v if low and right else zero
    return dx


@numba.njit(cache=True)
def maxpool2d_fwd(x, ph, pw, sh, sw, pt, pb, pl, pr):
    """The maximum of each window (a NaN wins); padded cells never count."""
    n, h, wd, c = x.shape
    oh = (h + pt + pb - ph) // sh + 1
    ow = (wd + pl + pr - pw) // sw + 1
    if _tiles_2x2(ph, pw, sh, sw, pt, pl, h, wd, oh, ow):
        return _maxpool2x2_fwd(x, oh, ow)
    out = np.empty((n, oh, ow, c), dtype=x.dtype)
    for b in range(n):
        for i in range(oh):
            i0, m0, m1 = _window(i, sh, pt, ph, h)
            for j in range(ow):
                j0, p0, p1 = _window(j, sw, pl, pw, wd)
                o, first = out[b, i, j], x[b, i0 + m0, j0 + p0]
                for ch in range(c):  # (loops, not slice stores: numba types those for seconds)
                    o[ch] = first[ch]
                for m in range(m0, m1):
                    for p in range(p0, p1):
                        xv = x[b, i0 + m, j0 + p]
                        for ch in range(c):
                            o[ch] = xv[ch] if _wins(xv[ch], o[ch]) else o[ch]
    return out


@numba.njit(cache=True)
def maxpool2d_gather(x, t, ph, pw, sh, sw, pt, pb, pl, pr):
    """``t`` at each window's maximum of ``x``: the first in row-major order, a NaN winning,
    padded cells never."""
    n, h, wd, c = x.shape
    oh = (h + pt + pb - ph) // sh + 1
    ow = (wd + pl + pr - pw) // sw + 1
    out = np.empty((n, oh, ow, c), dtype=t.dtype)
    best = np.empty(c, dtype=x.dtype)
    for b in range(n):
        for i in range(oh):
            i0, m0, m1 = _window(i, sh, pt, ph, h)
            for j in range(ow):
                j0, p0, p1 = _window(j, sw, pl, pw, wd)
                o = out[b, i, j]
                for ch in range(c):
                    best[ch] = x[b, i0 + m0, j0 + p0, ch]
                    o[ch] = t[b, i0 + m0, j0 + p0, ch]
                for m in range(m0, m1):
                    for p in range(p0, p1):
                        xv, tv = x[b, i0 + m, j0 + p], t[b, i0 + m, j0 + p]
                        for ch in range(c):
                            v, pick = xv[ch], tv[ch]  # both loaded: then LLVM selects, never branches
                            win = _wins(v, best[ch])
                            best[ch] = v if win else best[ch]
                            o[ch] = pick if win else o[ch]
    return out


@numba.njit(cache=True)
def maxpool2d_bwd(x, ct, ph, pw, sh, sw, pt, pl):
    """Each window's cotangent added at its maximum (as ``maxpool2d_gather`` picks it)."""
    n, h, wd, c = x.shape
    oh, ow = ct.shape[1], ct.shape[2]
    if _tiles_2x2(ph, pw, sh, sw, pt, pl, h, wd, oh, ow):
        return _maxpool2x2_bwd(x, ct)
    dx = np.zeros(x.shape, dtype=ct.dtype)
    flat = dx.reshape(-1)
    best = np.empty(c, dtype=x.dtype)
    cell = np.empty(c, dtype=np.int64)  # the flat offset of each channel's maximum so far
    for b in range(n):
        for i in range(oh):
            i0, m0, m1 = _window(i, sh, pt, ph, h)
            for j in range(ow):
                j0, p0, p1 = _window(j, sw, pl, pw, wd)
                first = ((b * h + i0 + m0) * wd + j0 + p0) * c
                for ch in range(c):
                    best[ch] = x[b, i0 + m0, j0 + p0, ch]
                    cell[ch] = first + ch
                for m in range(m0, m1):
                    for p in range(p0, p1):
                        xv, here = x[b, i0 + m, j0 + p], ((b * h + i0 + m) * wd + j0 + p) * c
                        for ch in range(c):
                            v = xv[ch]
                            win = _wins(v, best[ch])
                            best[ch] = v if win else best[ch]
                            cell[ch] = here + ch if win else cell[ch]
                g = ct[b, i, j]
                for ch in range(c):
                    flat[cell[ch]] += g[ch]
    return dx


@numba.njit(cache=True)
def avgpool2d_fwd(x, ph, pw, sh, sw, pt, pb, pl, pr):
    """The mean of each window over its cells inside the image."""
    n, h, wd, c = x.shape
    oh = (h + pt + pb - ph) // sh + 1
    ow = (wd + pl + pr - pw) // sw + 1
    out = np.zeros((n, oh, ow, c), dtype=x.dtype)
    count = np.empty(1, dtype=x.dtype)  # in x's dtype: float32 stays float32
    for b in range(n):
        for i in range(oh):
            i0, m0, m1 = _window(i, sh, pt, ph, h)
            for j in range(ow):
                j0, p0, p1 = _window(j, sw, pl, pw, wd)
                o = out[b, i, j]
                for m in range(m0, m1):
                    for p in range(p0, p1):
                        xv = x[b, i0 + m, j0 + p]
                        for ch in range(c):
                            o[ch] += xv[ch]
                count[0] = (m1 - m0) * (p1 - p0)
                for ch in range(c):
                    o[ch] /= count[0]
    return out


@numba.njit(cache=True)
def avgpool2d_bwd(ct, h, wd, ph, pw, sh, sw, pt, pl):
    """Each window's cotangent, divided by its count, added to its cells inside the image."""
    n, oh, ow, c = ct.shape
    dx = np.zeros((n, h, wd, c), dtype=ct.dtype)
    g = np.empty(c, dtype=ct.dtype)
    count = np.empty(1, dtype=ct.dtype)
    for b in range(n):
        for i in range(oh):
            i0, m0, m1 = _window(i, sh, pt, ph, h)
            for j in range(ow):
                j0, p0, p1 = _window(j, sw, pl, pw, wd)
                count[0] = (m1 - m0) * (p1 - p0)
                for ch in range(c):
                    g[ch] = ct[b, i, j, ch] / count[0]
                for m in range(m0, m1):
                    for p in range(p0, p1):
                        d = dx[b, i0 + m, j0 + p]
                        for ch in range(c):
                            d[ch] += g[ch]
    return dx
