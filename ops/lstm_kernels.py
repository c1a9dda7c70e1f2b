"""Kernels of the fused LSTM cell: numpy references (the reference interpreter and the ``numpy``
target) and numba kernels (the ``cpu`` target). The CUDA mirrors are in ``cuda_kernels.py``.

z (N, 4H) holds the gate pre-activations in the order i, f, g, o; c (N, H) the cell:

  i, f, g, o = sigmoid(z_i), sigmoid(z_f), tanh(z_g), sigmoid(z_o)
  c' = f*c + i*g,   h = o*tanh(c')

The backward takes the cotangents of h and c' and gives those of z and c; it recomputes the
gates from z and c (four exp-like functions per element, cheaper than saving them: a scan's
reverse loop then reads one (N, 4H) residual per step instead of seven (N, H) ones).
The numba kernels are one loop over the N*H elements calling ``vmath``'s branch-free sigmoid
and tanh, which LLVM vectorizes; arrays in, fresh arrays out. (The numpy references are named
``*_np``; the module's ``tanh`` is vmath's scalar one.)
"""
from __future__ import annotations

import numba
import numpy as np

from .vmath import sigmoid, tanh


# --- numpy references -------------------------------------------------------------------------------
def _gates(z, units):
    one = z.dtype.type(1)
    with np.errstate(over="ignore"):  # exp(-z) overflows to inf for very negative z: sigmoid is 0
        i, f, o = (one / (one + np.exp(-z[:, k * units:(k + 1) * units])) for k in (0, 1, 3))
    return i, f, np.tanh(z[:, 2 * units:3 * units]), o


def lstm_cell_np(z, c):
    """(h, c') of the LSTM cell."""
    i, f, g, o = _gates(z, c.shape[1])
    c_new = f * c + i * g
    return o * np.tanh(c_new), c_new


def lstm_cell_grad_np(z, c, h_bar, c_bar):
    """(z_bar, c_bar_prev): the cotangents of z and c for those of h and c'."""
    i, f, g, o = _gates(z, c.shape[1])
    one = z.dtype.type(1)
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
    """(h, c') of the LSTM cell; z (N, 4H) and c (N, H) C-contiguous."""
    n, units = c.shape
    h, c_new = np.empty_like(c), np.empty_like(c)
    for r in range(n):
        zi, zf, zg, zo = z[r, :units], z[r, units:2 * units], z[r, 2 * units:3 * units], z[r, 3 * units:]
        for j in range(units):
            cn = sigmoid(zf[j]) * c[r, j] + sigmoid(zi[j]) * tanh(zg[j])
            c_new[r, j] = cn
            h[r, j] = sigmoid(zo[j]) * tanh(cn)
    return h, c_new


@numba.njit(cache=True, nogil=True, error_model="numpy")
def lstm_cell_bwd(z, c, h_bar, c_bar):
    """(z_bar, c_bar_prev) of the LSTM cell, the gates recomputed from z and c."""
    n, units = c.shape
    z_bar, c_prev = np.empty_like(z), np.empty_like(c)
    one = z.dtype.type(1)
    for r in range(n):
        zi, zf, zg, zo = z[r, :units], z[r, units:2 * units], z[r, 2 * units:3 * units], z[r, 3 * units:]
        bi, bf, bg, bo = (z_bar[r, :units], z_bar[r, units:2 * units], z_bar[r, 2 * units:3 * units],
                          z_bar[r, 3 * units:])
        for j in range(units):
            i, f, g, o = sigmoid(zi[j]), sigmoid(zf[j]), tanh(zg[j]), sigmoid(zo[j])
            t = tanh(f * c[r, j] + i * g)
            d = c_bar[r, j] + h_bar[r, j] * o * (one - t * t)
            bi[j] = d * g * i * (one - i)
            bf[j] = d * c[r, j] * f * (one - f)
            bg[j] = d * i * (one - g * g)
            bo[j] = h_bar[r, j] * t * o * (one - o)
            c_prev[r, j] = d * f
    return z_bar, c_prev
