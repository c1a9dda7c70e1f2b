"""Activations by name, as Keras spells them: graph functions of one node."""
from __future__ import annotations

from .. import ops
from .names import lookup


def linear(x):
    return x


def softplus(x):
    """log(1 + exp(x)), stable for any x: relu(x) + log1p(exp(-|x|)), with -|x| written as
    minimum(x, -x) so that the derivative at 0 is sigmoid(0) = 1/2 (through abs and relu, whose
    derivatives at their kinks are 0 by convention, it would be 0: a table of zero scores, as
    word2vec starts from, would never move)."""
    return ops.relu(x) + ops.log1p(ops.exp(ops.minimum(x, -x)))


ACTIVATIONS = {"relu": ops.relu, "tanh": ops.tanh, "sigmoid": ops.sigmoid, "softmax": ops.softmax,
               "log_softmax": ops.log_softmax, "softplus": softplus, "linear": linear}


def get(name_or_fn):
    """An activation by name (None means linear) or the callable itself."""
    return linear if name_or_fn is None else lookup(ACTIVATIONS, "activation", name_or_fn)
