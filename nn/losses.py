"""Losses as graph functions: ``loss(predictions, targets) -> scalar node`` (mean over the batch).

The cross-entropies take logits and use ``log_softmax`` / a stable softplus, so no
``log(softmax(x))`` underflows to ``-inf``.
"""
from __future__ import annotations

import numpy as np

from .. import ops
from .activations import softplus
from .names import lookup


def mean_squared_error(pred, target):
    """mean((pred - target)**2) over every element."""
    return ops.mean((pred - target) ** 2)


def one_hot(labels, classes: int, dtype: str):
    """Integer labels (...) as one-hot rows (..., classes) of ``dtype``, as graph nodes."""
    return ops.convert(ops.equal(ops.expand_dims(labels, -1), np.arange(classes)), dtype)


def softmax_cross_entropy(logits, labels):
    """Integer class labels (N,) against logits (N, K): -mean(log_softmax(logits)[i, labels[i]])."""
    onehot = one_hot(labels, logits.shape[-1], logits.dtype)
    return -ops.mean(ops.sum(ops.log_softmax(logits) * onehot, axis=-1))


def softmax_cross_entropy_onehot(logits, targets):
    """One-hot (or any probability) targets (N, K) against logits (N, K)."""
    return -ops.mean(ops.sum(ops.log_softmax(logits) * targets, axis=-1))


def binary_cross_entropy_with_logits(logits, targets):
    """-mean(t*log(sigmoid(z)) + (1-t)*log(1-sigmoid(z))), written as softplus(z) - z*t
    (``activations.softplus``: it never takes the log of 0, and its derivative at z = 0 is 1/2)."""
    return ops.mean(softplus(logits) - logits * targets)


LOSSES = {"mse": mean_squared_error, "mean_squared_error": mean_squared_error,
          "softmax_cross_entropy": softmax_cross_entropy,
          "sparse_categorical_crossentropy": softmax_cross_entropy,
          "softmax_cross_entropy_onehot": softmax_cross_entropy_onehot,
          "categorical_crossentropy": softmax_cross_entropy_onehot,
          "binary_cross_entropy_with_logits": binary_cross_entropy_with_logits}


def get(name_or_fn):
    """A loss by name (Keras' names work too: ``"sparse_categorical_crossentropy"`` takes logits
    here) or the callable itself."""
    return lookup(LOSSES, "loss", name_or_fn)
