"""Metrics on numpy predictions (computed on the host from a compiled forward pass)."""
from __future__ import annotations

import numpy as np

from .names import lookup


def accuracy(logits, labels) -> float:
    """The fraction of rows whose largest logit is at the label (integer or one-hot labels)."""
    logits, labels = np.asarray(logits), np.asarray(labels)
    if labels.ndim == logits.ndim:
        labels = labels.argmax(axis=-1)
    return float(np.mean(logits.argmax(axis=-1) == labels))


def top_k_accuracy(logits, labels, k: int = 5) -> float:
    """The fraction of rows whose label is among the ``k`` largest logits."""
    logits, labels = np.asarray(logits), np.asarray(labels)
    if labels.ndim == logits.ndim:
        labels = labels.argmax(axis=-1)
    top = np.argpartition(-logits, min(k, logits.shape[-1]) - 1, axis=-1)[..., :k]
    return float(np.mean((top == labels[..., None]).any(axis=-1)))


METRICS = {"accuracy": accuracy, "top_k_accuracy": top_k_accuracy}


def get(name_or_fn):
    """A metric by name or the callable itself."""
    return lookup(METRICS, "metric", name_or_fn)
