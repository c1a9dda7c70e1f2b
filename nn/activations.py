"""Activations by name, as Keras spells them: graph functions of one node."""
from __future__ import annotations

from .. import ops


def linear(x):
    return x


ACTIVATIONS = {"relu": ops.relu, "tanh": ops.tanh, "sigmoid": ops.sigmoid, "softmax": ops.softmax,
               "log_softmax": ops.log_softmax, "linear": linear}


def get(name_or_fn):
    """An activation by name (None means linear) or the callable itself."""
    if name_or_fn is None:
        return linear
    if callable(name_or_fn):
        return name_or_fn
    try:
        return ACTIVATIONS[name_or_fn]
    except KeyError:
        raise ValueError(f"unknown activation {name_or_fn!r}; choose one of {', '.join(ACTIVATIONS)}") from None
