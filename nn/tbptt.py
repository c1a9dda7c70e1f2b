"""Truncated backpropagation through time (Williams & Peng 1990): train a recurrent model on a
long sequence in chunks of k steps. The state runs forward through the whole sequence, chunk
after chunk; the gradient of a chunk's loss goes back through that chunk's k steps only.

Each chunk is one call of one compiled function (forward scan, reverse scan, optimizer update),
whose initial state is an input: the final state of the chunk before, as numbers. So no gradient
can flow back past a chunk boundary, with no ``stop_gradient`` needed, and one compiled function
serves every chunk, a shorter last one included (the chunk length is a dynamic dimension).
"""
from __future__ import annotations

import time

import numpy as np

from .. import compiler, ops
from ..engine import Function, value_and_grad, var
from . import losses
from .history import History


def _leaves(carry) -> list:
    """The arrays (or nodes) of a state: one, or a tuple or list of them (an LSTM's (h, c))."""
    return list(carry) if isinstance(carry, (tuple, list)) else [carry]


def _like(carry, leaves):
    return tuple(leaves) if isinstance(carry, (tuple, list)) else leaves[0]


def _spec(a) -> tuple:
    """(shape with the batch and time dims dynamic, dtype) of a batch-major sequence (N, T, ...)."""
    a = np.asarray(a)
    if a.ndim < 2:
        raise ValueError(f"tbptt: sequences are (N, T, ...) arrays, got shape {a.shape}")
    return (None, None) + a.shape[2:], a.dtype.name if a.dtype.kind != "i" else "int64"


class TBPTT:
    """The compiled functions of truncated BPTT for a recurrent step
    ``step(params, carry, x_t) -> (carry, y_t)`` (graph nodes in and out: ``x_t`` (N, ...) is one
    time step, ``y_t`` the prediction the loss compares with the target at that step):

    - ``trainer(params, opt_state, carry, x, y) -> (loss, params, opt_state, carry)``: one chunk
      (x, y batch-major: (N, k, ...)) forward, its gradient, the optimizer's update, and the
      state after the chunk;
    - ``trainer.gradient(params, carry, x, y) -> (loss, grads, carry)``: the chunk's loss and
      the gradient of every parameter with the entering ``carry`` held constant (no update).

    ``loss(predictions (N, k, ...), targets) -> scalar`` is a loss of ``nn.losses`` or its name;
    ``params`` a dict of arrays, ``carry`` an array or a tuple of arrays (examples: their shapes
    and dtypes; the batch may change between calls)."""

    def __init__(self, step, loss, optimizer, params: dict, carry, x_example, y_example, target: str = "cpu"):
        self.step, self.loss, self.optimizer, self.target = step, losses.get(loss), optimizer, target
        self.keys = list(params)
        self._carry = carry
        p = [var(k, np.shape(v), np.asarray(v).dtype.name) for k, v in params.items()]
        c = [var(f"carry{j}", (None,) + np.shape(a)[1:], np.asarray(a).dtype.name)
             for j, a in enumerate(_leaves(carry))]
        x, y = var("x", *_spec(x_example)), var("y", *_spec(y_example))
        self.inputs = p + c + [x, y]
        value, carry_out = self._objective(p, c, x, y)
        grads = value_and_grad(Function(self.inputs, value, name="chunk_loss"), wrt=self.keys)(*self.inputs)
        self._grad_outputs = list(grads) + carry_out
        s = {k: var(f"state/{k}", np.shape(v), np.asarray(v).dtype.name)
             for k, v in optimizer.init(params).items()}
        new_params, new_state = optimizer.update(dict(zip(self.keys, p)), dict(zip(self.keys, grads[1:])), s)
        self.state_keys = list(s)
        self.function = Function(p + list(s.values()) + c + [x, y],
                                 [grads[0]] + [new_params[k] for k in self.keys]
                                 + [new_state[k] for k in self.state_keys] + carry_out, name="tbptt_step")
        self.compiled = compiler.jit(self.function, target)
        self._gradient = None

    def _objective(self, p, c, x, y) -> tuple:
        """(loss node, final carry leaves) of one chunk: the step scanned over time."""
        params = dict(zip(self.keys, p))
        time_major = (1, 0) + tuple(range(2, x.ndim))
        carry_out, preds = ops.scan(lambda carry, x_t: self.step(params, carry, x_t), _like(self._carry, c),
                                    ops.transpose(x, time_major))
        preds = ops.transpose(preds, (1, 0) + tuple(range(2, preds.ndim)))
        return self.loss(preds, y), _leaves(carry_out)

    def __call__(self, params: dict, opt_state: dict, carry, x, y) -> tuple:
        out = self.compiled(*[params[k] for k in self.keys], *[opt_state[k] for k in self.state_keys],
                            *_leaves(carry), x, y)
        n, m = len(self.keys), len(self.state_keys)
        return (out[0], dict(zip(self.keys, out[1:1 + n])), dict(zip(self.state_keys, out[1 + n:1 + n + m])),
                _like(carry, list(out[1 + n + m:])))

    def gradient(self, params: dict, carry, x, y) -> tuple:
        """(loss, {name: gradient}, carry after the chunk), compiled at the first call."""
        if self._gradient is None:
            self._gradient = compiler.jit(Function(self.inputs, self._grad_outputs, name="tbptt_gradient"),
                                          self.target)
        out = self._gradient(*[params[k] for k in self.keys], *_leaves(carry), x, y)
        n = len(self.keys)
        return out[0], dict(zip(self.keys, out[1:1 + n])), _like(carry, list(out[1 + n:]))


def tbptt_fit(step, params: dict, carry, xs, ys, k: int, loss, optimizer, epochs: int = 1,
              state: dict | None = None, target: str = "cpu") -> tuple:
    """Train ``step(params, carry, x_t) -> (carry, y_t)`` on the sequences ``xs`` (N, T, ...)
    against the targets ``ys`` (N, T, ...) by truncated backpropagation through time: each epoch
    starts from ``carry`` and runs the chunks ``[0, k), [k, 2k), ...`` in order, each one
    optimizer step whose gradient stops at the chunk's first step, the state carried on to the
    next chunk. Returns ``(params, carry, history)``: the carry after the last chunk (to go on
    reading or generating), ``history["loss"]`` the mean loss of each epoch (chunks weighted by
    their length) and ``history.state`` the optimizer state.

    >>> import numpy as np
    >>> from adjit import nn, ops
    >>> def step(p, h, x):
    ...     h = ops.tanh(x @ p["W"] + h @ p["U"])
    ...     return h, h @ p["V"]
    >>> rng = np.random.default_rng(0)
    >>> params = {"W": rng.normal(size=(1, 8)) * 0.5, "U": rng.normal(size=(8, 8)) * 0.3,
    ...           "V": rng.normal(size=(8, 1)) * 0.3}
    >>> wave = np.sin(np.arange(401) * 0.2).reshape(1, -1, 1)
    >>> params, h, history = nn.tbptt_fit(step, params, np.zeros((1, 8)), wave[:, :-1], wave[:, 1:],
    ...                                   k=20, loss="mse", optimizer=nn.optim.Adam(0.02), epochs=3,
    ...                                   target="numpy")
    >>> history["loss"][-1] < history["loss"][0] / 3
    True
    """
    xs, ys = np.asarray(xs), np.asarray(ys)
    if xs.shape[:2] != ys.shape[:2]:
        raise ValueError(f"tbptt_fit: xs {xs.shape} and ys {ys.shape} differ in their (N, T) dims")
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"tbptt_fit: k must be a positive int, got {k!r}")
    start = time.perf_counter()
    trainer = TBPTT(step, loss, optimizer, params, carry, xs[:, :k], ys[:, :k], target)
    state = optimizer.init(params) if state is None else state
    history = History()
    for epoch in range(epochs):
        epoch_start, c, total = time.perf_counter(), carry, 0.0
        for t in range(0, xs.shape[1], k):
            value, params, state, c = trainer(params, state, c, xs[:, t:t + k], ys[:, t:t + k])
            if history.compile_seconds is None:
                history.compile_seconds = time.perf_counter() - start
                epoch_start = time.perf_counter()
            total += float(value) * min(k, xs.shape[1] - t)
        history.append(epoch + 1, {"loss": total / max(xs.shape[1], 1), "seconds": time.perf_counter() - epoch_start})
    history.state = state
    return params, c, history
