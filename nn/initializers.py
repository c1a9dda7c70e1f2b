"""Weight initialisers: numpy arrays from an explicit seed (no global random state).

Each takes ``(rng, shape, fan_in, fan_out, dtype)``; layers compute the fans (for a kernel
``(KH, KW, Cin, Cout)``: fan_in = KH*KW*Cin, fan_out = KH*KW*Cout, as in Keras).
"""
from __future__ import annotations

import numpy as np

from .names import lookup


def glorot_uniform(rng, shape, fan_in, fan_out, dtype="float32"):
    """Uniform on [-a, a], a = sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio 2010); the default."""
    limit = np.sqrt(6.0 / max(fan_in + fan_out, 1))
    return rng.uniform(-limit, limit, size=shape).astype(dtype)


def he_normal(rng, shape, fan_in, fan_out, dtype="float32"):
    """Normal with std sqrt(2 / fan_in), truncated at two standard deviations (He et al. 2015,
    as Keras draws it): for layers followed by relu."""
    std = np.sqrt(2.0 / max(fan_in, 1)) / 0.87962566103423978  # the std of a unit normal cut at ±2
    out = rng.normal(size=shape)
    bad = np.abs(out) > 2
    while bad.any():
        out[bad] = rng.normal(size=int(bad.sum()))
        bad = np.abs(out) > 2
    return (out * std).astype(dtype)


def orthogonal(rng, shape, fan_in=None, fan_out=None, dtype="float32"):
    """A (semi-)orthogonal matrix (Saxe et al. 2014): the default for recurrent kernels, whose
    repeated products then neither shrink nor grow a vector at the start of training."""
    rows, cols = int(np.prod(shape[:-1])), shape[-1]
    a = rng.normal(size=(max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q = q * np.sign(np.diag(r))  # a uniform distribution over orthogonal matrices
    q = q if rows >= cols else q.T
    return q.reshape(shape).astype(dtype)


def uniform(rng, shape, fan_in=None, fan_out=None, dtype="float32"):
    """Uniform on [-0.05, 0.05]: Keras' default for embeddings."""
    return rng.uniform(-0.05, 0.05, size=shape).astype(dtype)


def zeros(rng, shape, fan_in=None, fan_out=None, dtype="float32"):
    return np.zeros(shape, dtype=dtype)


def constant(value):
    """An initialiser that returns a copy of ``value`` (of the parameter's shape and dtype):
    pretrained weights as a layer's starting point."""
    value = np.asarray(value)

    def init(rng, shape, fan_in=None, fan_out=None, dtype="float32"):
        if value.shape != tuple(shape):
            raise ValueError(f"constant initializer: the value has shape {value.shape}, the parameter {tuple(shape)}")
        return value.astype(dtype, copy=True)
    return init


INITIALIZERS = {"glorot_uniform": glorot_uniform, "he_normal": he_normal, "orthogonal": orthogonal,
                "uniform": uniform, "zeros": zeros}


def get(name_or_fn):
    """An initialiser by name (``"glorot_uniform"``, ``"he_normal"``, ``"orthogonal"``,
    ``"uniform"``, ``"zeros"``) or the callable itself."""
    return lookup(INITIALIZERS, "initializer", name_or_fn)
