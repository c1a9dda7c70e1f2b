"""Naive references for convolution and pooling: loops over output pixels and kernel taps, written
from the definitions (and the TF/Keras padding arithmetic) without adjit's code. Sums in float64,
results in the input dtype."""
from __future__ import annotations

import math

import numpy as np


def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def pads(padding, hw, spans, strides):
    """((top, bottom), (left, right)) of a user's padding argument."""
    if padding == "valid":
        return ((0, 0), (0, 0))
    if padding == "same":
        out = []
        for n, span, s in zip(hw, spans, strides):
            total = max((math.ceil(n / s) - 1) * s + span - n, 0)
            out.append((total // 2, total - total // 2))
        return tuple(out)
    if isinstance(padding, int):
        return ((padding, padding), (padding, padding))
    if isinstance(padding[0], int):
        return ((padding[0], padding[0]), (padding[1], padding[1]))
    return tuple(tuple(p) for p in padding)


def _out(size, span, stride, pad):
    return (size + pad[0] + pad[1] - span) // stride + 1


def _taps(i, j, kernel_hw, strides, padding, dilation, hw):
    """(m, p, row, col) of each tap of output (i, j) that reads a cell inside the image."""
    for m in range(kernel_hw[0]):
        for p in range(kernel_hw[1]):
            r = i * strides[0] + m * dilation[0] - padding[0][0]
            c = j * strides[1] + p * dilation[1] - padding[1][0]
            if 0 <= r < hw[0] and 0 <= c < hw[1]:
                yield m, p, r, c


def conv2d(x, w, stride=1, padding="valid", dilation=1):
    strides, dil = pair(stride), pair(dilation)
    spans = [d * (k - 1) + 1 for k, d in zip(w.shape[:2], dil)]
    return conv2d_p(x, w, strides, pads(padding, x.shape[1:3], spans, strides), dil)


def conv2d_p(x, w, strides, padding, dilation):
    spans = [d * (k - 1) + 1 for k, d in zip(w.shape[:2], dilation)]
    oh, ow = (_out(n, s, st, p) for n, s, st, p in zip(x.shape[1:3], spans, strides, padding))
    out = np.zeros((x.shape[0], oh, ow, w.shape[3]))
    for i in range(oh):
        for j in range(ow):
            for m, p, r, c in _taps(i, j, w.shape[:2], strides, padding, dilation, x.shape[1:3]):
                out[:, i, j] += x[:, r, c].astype(np.float64) @ w[m, p]
    return out.astype(x.dtype)


def conv2d_input_grad(ct, w, input_hw, strides, padding, dilation):
    dx = np.zeros((ct.shape[0],) + tuple(input_hw) + (w.shape[2],))
    for i in range(ct.shape[1]):
        for j in range(ct.shape[2]):
            for m, p, r, c in _taps(i, j, w.shape[:2], strides, padding, dilation, input_hw):
                dx[:, r, c] += ct[:, i, j].astype(np.float64) @ w[m, p].T
    return dx.astype(ct.dtype)


def conv2d_weight_grad(x, ct, kernel_hw, strides, padding, dilation):
    dw = np.zeros(tuple(kernel_hw) + (x.shape[3], ct.shape[3]))
    for i in range(ct.shape[1]):
        for j in range(ct.shape[2]):
            for m, p, r, c in _taps(i, j, kernel_hw, strides, padding, dilation, x.shape[1:3]):
                dw[m, p] += x[:, r, c].astype(np.float64).T @ ct[:, i, j]
    return dw.astype(x.dtype)


def _pool_params(x, pool, stride, padding):
    size = pair(pool)
    strides = size if stride is None else pair(stride)
    return size, strides, pads(padding, x.shape[1:3], size, strides)


def _pool_out(hw, pool, strides, padding):
    return tuple(_out(n, k, s, p) for n, k, s, p in zip(hw, pool, strides, padding))


def _argmax(x, pool, strides, padding):
    """{(n, i, j, ch): (row, col)} of each window's first maximum (row-major; a NaN wins)."""
    oh, ow = _pool_out(x.shape[1:3], pool, strides, padding)
    winners = {}
    for n in range(x.shape[0]):
        for ch in range(x.shape[3]):
            for i in range(oh):
                for j in range(ow):
                    cells = [(r, c) for _, _, r, c in _taps(i, j, pool, strides, padding, (1, 1), x.shape[1:3])]
                    values = [x[n, r, c, ch] for r, c in cells]
                    nans = [k for k, v in enumerate(values) if np.isnan(v)]
                    winners[n, i, j, ch] = cells[nans[0] if nans else int(np.argmax(values))]
    return winners, (oh, ow)


def maxpool2d(x, pool=2, stride=None, padding="valid"):
    return maxpool2d_gather(x, x, *_pool_params(x, pool, stride, padding))


def maxpool2d_gather(x, t, pool, strides, padding):
    winners, (oh, ow) = _argmax(x, pool, strides, padding)
    out = np.zeros((x.shape[0], oh, ow, x.shape[3]), dtype=t.dtype)
    for (n, i, j, ch), (r, c) in winners.items():
        out[n, i, j, ch] = t[n, r, c, ch]
    return out


def maxpool2d_grad(x, ct, pool, strides, padding):
    winners, _ = _argmax(x, pool, strides, padding)
    dx = np.zeros(x.shape)
    for (n, i, j, ch), (r, c) in winners.items():
        dx[n, r, c, ch] += ct[n, i, j, ch]
    return dx.astype(ct.dtype)


def avgpool2d(x, pool=2, stride=None, padding="valid"):
    size, strides, padding = _pool_params(x, pool, stride, padding)
    oh, ow = _pool_out(x.shape[1:3], size, strides, padding)
    out = np.zeros((x.shape[0], oh, ow, x.shape[3]))
    for i in range(oh):
        for j in range(ow):
            cells = [(r, c) for _, _, r, c in _taps(i, j, size, strides, padding, (1, 1), x.shape[1:3])]
            out[:, i, j] = sum(x[:, r, c].astype(np.float64) for r, c in cells) / len(cells)
    return out.astype(x.dtype)


def avgpool2d_grad(ct, input_hw, pool, strides, padding):
    dx = np.zeros((ct.shape[0],) + tuple(input_hw) + (ct.shape[3],))
    for i in range(ct.shape[1]):
        for j in range(ct.shape[2]):
            cells = [(r, c) for _, _, r, c in _taps(i, j, pool, strides, padding, (1, 1), input_hw)]
            for r, c in cells:
                dx[:, r, c] += ct[:, i, j] / len(cells)
    return dx.astype(ct.dtype)
