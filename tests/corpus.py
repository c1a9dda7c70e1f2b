"""A corpus of small programs that drives the transformation tests: (name, Python callable, example
arguments). Arguments are float64 and keep away from kinks (relu, where) so that central
differences are a valid reference. Programs with a scalar float output are the ones ``grad``,
``hessian`` and ``value_and_grad`` apply to (``scalar=True``)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from adjit import ops


@dataclass
class Program:
    name: str
    fn: Callable
    args: tuple
    wrt: tuple = None       # indices of the float arguments to differentiate (None: all)
    scalar: bool = True     # a scalar float output

    def __repr__(self):
        return self.name

    @property
    def wrt_indices(self) -> list:
        return list(range(len(self.args))) if self.wrt is None else list(self.wrt)


_rng = np.random.default_rng(1234)


def _normal(*shape, scale=1.0):
    return _rng.normal(size=shape) * scale


def mlp_loss(w1, b1, w2, b2, x, y):
    """A two-layer perceptron with softmax cross-entropy (y one-hot)."""
    h = ops.tanh(x @ w1 + b1)
    logits = h @ w2 + b2
    return -ops.mean(ops.sum(y * ops.log_softmax(logits, axis=-1), axis=-1))


def rational(x, y):
    return (x * x + 3.0 * x * y - 1.0) / (1.0 + x * x + y * y)


def piecewise(x):
    """where and relu (examples keep away from the switch points 0.5 and 0)."""
    return ops.sum(ops.where(x > 0.5, x ** 2, ops.relu(x) - 0.1 * x) + ops.abs(x) * ops.maximum(x, -x * 0.5))


def reductions(x):
    return ops.max(ops.sum(x, axis=0)) + ops.sum(ops.mean(x * x, axis=1)) + ops.logsumexp(x) \
        - ops.mean(ops.max(x, axis=1, keepdims=True) * x)


def broadcasting(x, y, b):
    return ops.sum(ops.sin(x * y + b) * (x - y)) + ops.sum(ops.exp(-(x - y) ** 2), axis=None)


def scalar_chain(x):
    return ops.sin(ops.cos(x)) * ops.exp(x) / (1.0 + x * x) + ops.log1p(x * x) ** 1.5


def embedding(e, w, idx):
    """A gather (integer indices, one repeated) feeding a matrix product."""
    return ops.sum(ops.tanh(e[idx] @ w) ** 2)


def shapes(x):
    """Slicing, concatenation, stacking, transposes and reshapes."""
    a = ops.concatenate([x[:, :2], ops.transpose(x)[1:3, :2].T], axis=1)
    b = ops.stack([ops.reshape(x, (-1,))[::2], ops.reshape(x.T, (6,))[1::2]], axis=-1)
    return ops.sum(a * a) + ops.sum(ops.softmax(b, axis=0) * ops.broadcast_to(ops.expand_dims(x[:, 0], 0), (3, 2)))


def two_outputs(x, y):
    """Not a scalar: a vector and a matrix."""
    return x * y[0], ops.tanh(ops.expand_dims(x, 1) * y)


PROGRAMS = [
    Program("mlp_loss", mlp_loss,
            (_normal(3, 4, scale=0.5), _normal(4, scale=0.1), _normal(4, 2, scale=0.5), _normal(2, scale=0.1),
             _normal(5, 3), np.eye(2)[[0, 1, 1, 0, 1]]),
            wrt=(0, 1, 2, 3)),
    Program("rational", rational, (np.float64(0.7), np.float64(-1.3))),
    Program("piecewise", piecewise, (np.array([-1.2, -0.3, 0.2, 0.9, 1.7]),)),
    Program("reductions", reductions, (np.array([[0.3, -1.0, 2.2, 0.1], [1.4, 0.5, -0.7, -2.0],
                                                 [0.9, 1.1, -0.2, 0.6]]),)),
    Program("broadcasting", broadcasting, (_normal(3, 1), _normal(4), np.float64(0.3))),
    Program("scalar_chain", scalar_chain, (np.float64(0.8),)),
    Program("embedding", embedding, (_normal(5, 3), _normal(3, 2), np.array([4, 0, 2, 0])), wrt=(0, 1)),
    Program("shapes", shapes, (_normal(2, 3),)),
    Program("two_outputs", two_outputs, (_normal(3), _normal(2)), scalar=False),
]

SCALAR_PROGRAMS = [p for p in PROGRAMS if p.scalar]
