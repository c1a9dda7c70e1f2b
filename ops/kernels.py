"""Kernels called by generated code: numba functions for the cpu target, numpy for the reference.

They take arrays and ints only, so generated modules that call them cache on disk; the compiler's
cache key includes a hash of this file's source (and of the kernel modules imported here).
"""
from __future__ import annotations

import numba
import numpy as np

from .conv_kernels import (avgpool2d_bwd, avgpool2d_fwd, avgpool2d_grad_np, avgpool2d_np,  # noqa: F401
                           conv2d_bwd_input, conv2d_bwd_weight, conv2d_fwd, conv2d_input_grad_np, conv2d_np,
                           conv2d_weight_grad_np, maxpool2d_bwd, maxpool2d_fwd, maxpool2d_gather,
                           maxpool2d_gather_np, maxpool2d_grad_np, maxpool2d_np)
from .gemm_kernels import dot, dot_add, dot_add_packed, dot_packed, pack_panels  # noqa: F401
from .lstm_kernels import lstm_cell_bwd, lstm_cell_fwd, lstm_cell_grad_np, lstm_cell_np  # noqa: F401


def argmax_mask(x, axes):
    """True at the first maximal element (C order) of each slice over ``axes``; a NaN wins."""
    rest = [k for k in range(x.ndim) if k not in axes]
    moved = np.transpose(x, rest + list(axes))
    flat = moved.reshape(moved.shape[:len(rest)] + (-1,))
    mask = np.zeros(flat.shape, dtype=bool)
    if flat.shape[-1]:
        hits = np.argmax(np.where(np.isnan(flat), np.inf, flat) if flat.dtype.kind == "f" else flat, axis=-1)
        np.put_along_axis(mask, hits[..., None], True, axis=-1)
    return np.transpose(mask.reshape(moved.shape), np.argsort(rest + list(axes)))


@numba.njit(cache=True)
def argmax_mask_2d(x):
    """Row-wise: True at the first maximum of each row of a 2-D array (a NaN wins)."""
    out = np.zeros(x.shape, dtype=np.bool_)
    for i in range(x.shape[0]):
        best = 0
        for j in range(1, x.shape[1]):
            v, b = x[i, j], x[i, best]
            if b == b and (v > b or v != v):
                best = j
        if x.shape[1]:
            out[i, best] = True
    return out


def take_grad(ct, idx, like):
    out = np.zeros_like(like)
    np.add.at(out, idx, ct)
    return out


@numba.njit(cache=True)
def take_2d(x, idx):
    """Rows ``idx`` (flat, negative allowed) of a 2-D array. The rows are copied by an explicit
    loop: a row slice assignment costs numba an array expression per row (3-4x slower for
    embedding rows of 16 to 100 values)."""
    n, m = x.shape
    out = np.empty((idx.shape[0], m), dtype=x.dtype)
    for i in range(idx.shape[0]):
        r = idx[i] + n if idx[i] < 0 else idx[i]
        if r < 0 or r >= n:
            raise IndexError("take: index out of range")
        for j in range(m):
            out[i, j] = x[r, j]
    return out


@numba.njit(cache=True)
def take_grad_2d(ct, idx, n):
    """The adjoint of ``take_2d``: rows of ``ct`` added into an ``n``-row zero array (the only
    pass over the whole table is the zero fill; the additions touch the rows used, by an
    explicit loop, as in ``take_2d``)."""
    m = ct.shape[1]
    out = np.zeros((n, m), dtype=ct.dtype)
    for i in range(idx.shape[0]):
        r = idx[i] + n if idx[i] < 0 else idx[i]
        for j in range(m):
            out[r, j] += ct[i, j]
    return out


@numba.njit(cache=True)
def transpose(x, perm):
    """``np.transpose(x, perm)`` (a view) behind a cached kernel, for the same reason as ``dot``:
    numba takes about 4 s to compile a transpose with axes, in every generated function that
    holds one; a call to this costs ~0.1 s once it is cached."""
    return np.transpose(x, perm)


@numba.njit(cache=True)
def assign(dst, src):
    """``dst[...] = src`` (``dst`` a view into a larger array, ``src`` of its shape) behind a
    cached kernel: an array assignment costs numba about 4 s to compile, in every generated
    function that holds one."""
    dst[...] = src


@numba.njit(cache=True)
def matmul_3d(a, b):
    """Batched matrix product of two stacks of matrices; a stack of one broadcasts."""
    batch = max(a.shape[0], b.shape[0])
    out = np.empty((batch, a.shape[1], b.shape[2]), dtype=a.dtype)
    for i in range(batch):
        out[i] = np.dot(a[i if a.shape[0] > 1 else 0], b[i if b.shape[0] > 1 else 0])
    return out


_GOLDEN, _STEP = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xD1B54A32D192ED03)
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


def uniform_ref(key, like):
    """numpy's version of ``uniform_like`` (uint64 arithmetic wraps, as in the kernel)."""
    like = np.asarray(like)
    with np.errstate(over="ignore"):
        seed = np.int64(key).view(np.uint64) * _GOLDEN
        z = seed + np.arange(1, like.size + 1, dtype=np.uint64) * _STEP
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        z = z ^ (z >> np.uint64(31))
    if like.dtype == np.float32:
        out = (z >> np.uint64(40)).astype(np.float32) * np.float32(2.0 ** -24)
    else:
        out = (z >> np.uint64(11)).astype(np.float64) * (2.0 ** -53)
    return out.reshape(like.shape)


@numba.njit(cache=True)
def uniform_like(key, like):
    """Uniform numbers in [0, 1) with ``like``'s shape and dtype: element k is a splitmix64 hash
    of (key, k), so the same key gives the same numbers on every target (``uniform_ref``)."""
    out = np.empty(like.shape, dtype=like.dtype)
    flat = out.reshape(-1)
    seed = np.uint64(key.item()) * np.uint64(0x9E3779B97F4A7C15)  # key: a rank-0 int64 array
    for k in range(flat.size):
        z = seed + np.uint64(k + 1) * np.uint64(0xD1B54A32D192ED03)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
        if out.itemsize == 4:
            flat[k] = np.float32(z >> np.uint64(40)) * np.float32(2.0 ** -24)
        else:
            flat[k] = np.float64(z >> np.uint64(11)) * (2.0 ** -53)
    return out
