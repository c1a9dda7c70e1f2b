"""Kernels of the fused LSTM cell: numpy references (the reference interpreter and the ``numpy``
target) and numba kernels (the ``cpu`` target). The CUDA mirrors are in ``cuda_kernels.py``.

z (N, 4H) holds the gate pre-activations in the order i, f, g, o; c (N, H) the cell:

  i, f, g, o = sigmoid(z_i), sigmoid(z_f), tanh(z_g), sigmoid(z_o)
  c' = f*c + i*g,   h = o*tanh(c')

The forward also returns the activated gates a = [i, f, g, o] (N, 4H), as cuDNN keeps them: the
backward takes a, c and the cotangents of h and c' and gives those of z and c with one tanh per
element (tanh(c'), c' = f*c + i*g recomputed) instead of five exp-like functions. A scan's
reverse loop then reads one (N, 4H) residual per step (a, in place of z).
The numba kernels are one loop over the N*H elements calling ``vmath``'s branch-free sigmoid
and tanh, which LLVM vectorizes; arrays in, fresh arrays out. (The numpy references are named
``*_np``; the module's ``tanh`` is vmath's scalar one.)
"""
from __future__ import annotations

import numba
import numpy as np

from .vmath import sigmoid, tanh


# --- numpy references -------------------------------------------------------------------------------
def _acts(z, units):
    one = z.dtype.type(1)
    a = np.empty_like(z)
    with np.errstate(over="ignore"):  # exp(-z) overflows to inf for very negative z: sigmoid is 0
        a[:] = one / (one + np.exp(-z))
    a[:, 2 * units:3 * units] = np.tanh(z[:, 2 * units:3 * units])
    return a


def gate_blocks(a, units):
    """The four gate blocks [i, f, g, o] of an (N, 4H) array, as views (or of a graph node, as
    slices: ``lstm.py`` writes its formulas with this too)."""
    return a[:, :units], a[:, units:2 * units], a[:, 2 * units:3 * units], a[:, 3 * units:]


def lstm_cell_np(z, c):
    """(h, c', a) of the LSTM cell, a the activated gates [i, f, g, o]."""
    a = _acts(z, c.shape[1])
    i, f, g, o = gate_blocks(a, c.shape[1])
    c_new = f * c + i * g
    return o * np.tanh(c_new), c_new, a


def lstm_cell_grad_np(a, c, h_bar, c_bar):
    """(z_bar, c_bar_prev): the cotangents of z and c for those of h and c', from the activated
    gates a and the cell c."""
    i, f, g, o = gate_blocks(a, c.shape[1])
    one = a.dtype.type(1)
    t = np.tanh(f * c + i * g)
    d = c_bar + h_bar * o * (one - t * t)
    z_bar = np.concatenate([d * g * i * (one - i), d * c * f * (one - f), d * i * (one - g * g),
                            h_bar * t * o * (one - o)], axis=1)
    return z_bar, d * f


# --- numba kernels (cpu target) ----------------------------------------------------------------------
# Each row's four gate blocks are taken as separate views: LLVM then vectorizes the loop over the
# units (four stores into one row of z_bar at offsets unknown at compile time kept the backward
# scalar: 11x slower).
@numba.njit(cache=True, nogil=True, error_model="numpy")
def lstm_cell_fwd(z, c):
    """(h, c', a) of the LSTM cell; z (N, 4H) and c (N, H) C-contiguous."""
    n, units = c.shape
    h, c_new, a = np.empty_like(c), np.empty_like(c), np.empty_like(z)
    for r in range(n):
        zi, zf, zg, zo = z[r, :units], z[r, units:2 * units], z[r, 2 * units:3 * units], z[r, 3 * units:]
        ai, af, ag, ao = a[r, :units], a[r, units:2 * units], a[r, 2 * units:3 * units], a[r, 3 * units:]
        for j in range(units):
            i, f, g, o = sigmoid(zi[j]), sigmoid(zf[j]), tanh(zg[j]), sigmoid(zo[j])
            ai[j], af[j], ag[j], ao[j] = i, f, g, o
            cn = f * c[r, j] + i * g
            c_new[r, j] = cn
            h[r, j] = o * tanh(cn)
    return h, c_new, a


@numba.njit(cache=True, nogil=True, error_model="numpy")
def lstm_cell_bwd(a, c, h_bar, c_bar):
    """(z_bar, c_bar_prev) of the LSTM cell from the activated gates a (N, 4H) and c (N, H)."""
    n, units = c.shape
    z_bar, c_prev = np.empty_like(a), np.empty_like(c)
    one = a.dtype.type(1)
    for r in range(n):
        ai, af, ag, ao = a[r, :units], a[r, units:2 * units], a[r, 2 * units:3 * units], a[r, 3 * units:]
        bi, bf, bg, bo = (z_bar[r, :units], z_bar[r, units:2 * units], z_bar[r, 2 * units:3 * units],
                          z_bar[r, 3 * units:])
        for j in range(units):
            i, f, g, o = ai[j], af[j], ag[j], ao[j]
            t = tanh(f * c[r, j] + i * g)
            d = c_bar[r, j] + h_bar[r, j] * o * (one - t * t)
            bi[j] = d * g * i * (one - i)
            bf[j] = d * c[r, j] * f * (one - f)
            bg[j] = d * i * (one - g * g)
            bo[j] = h_bar[r, j] * t * o * (one - o)
            c_prev[r, j] = d * f
    return z_bar, c_prev
