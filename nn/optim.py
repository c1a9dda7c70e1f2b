"""Optimizers and gradient clipping: pure functions of dicts of parameters, gradients and state.

``opt.init(params) -> state`` and ``opt.update(params, grads, state) -> (params, state)`` work on
numpy arrays and on graph nodes alike, so the update compiles into the training step together
with the loss and its gradient (``nn.train_step``). Hyperparameters are Python numbers (weakly
typed: float32 parameters stay float32).
"""
from __future__ import annotations

import numpy as np

from .. import ops
from ..engine import Node


def _xp(x):
    """numpy for arrays, adjit.ops for graph nodes: the few functions both spell alike."""
    return ops if isinstance(x, Node) else np


def global_norm(grads: dict):
    """sqrt of the sum of squares of every gradient entry."""
    g = next(iter(grads.values()))
    return _xp(g).sqrt(sum(_xp(v).sum(v * v) for v in grads.values()))


def clip_by_global_norm(grads: dict, max_norm: float) -> dict:
    """Scale all gradients by min(1, max_norm / global_norm) (Pascanu et al. 2013): the direction
    is kept, the step bounded."""
    norm = global_norm(grads)
    scale = _xp(norm).minimum(1.0, max_norm / (norm + 1e-12))
    return {k: g * scale for k, g in grads.items()}


def clip_by_value(grads: dict, limit: float) -> dict:
    """Each gradient entry clipped to [-limit, limit]."""
    return {k: _xp(g).minimum(_xp(g).maximum(g, -limit), limit) for k, g in grads.items()}


class Optimizer:
    """Shared by SGD and Adam: weight decay (an L2 term added to each gradient, as in
    ``torch.optim``) and clipping (by global norm ``clipnorm``, then by value ``clipvalue``)."""

    def __init__(self, weight_decay: float = 0.0, clipnorm: float | None = None, clipvalue: float | None = None):
        self.weight_decay, self.clipnorm, self.clipvalue = weight_decay, clipnorm, clipvalue

    def _prepare(self, params: dict, grads: dict) -> dict:
        if set(grads) != set(params):
            raise ValueError(f"{type(self).__name__}.update: gradients for {sorted(set(grads) ^ set(params))} "
                             "do not match the parameters")
        if self.clipnorm is not None:
            grads = clip_by_global_norm(grads, self.clipnorm)
        if self.clipvalue is not None:
            grads = clip_by_value(grads, self.clipvalue)
        if self.weight_decay:
            grads = {k: g + self.weight_decay * params[k] for k, g in grads.items()}
        return grads


class SGD(Optimizer):
    """Stochastic gradient descent, with momentum as ``torch.optim.SGD`` defines it:
    ``v = momentum*v + g``; ``p -= lr*v`` (Nesterov: ``p -= lr*(g + momentum*v)``).

    >>> import numpy as np
    >>> opt = SGD(0.1, momentum=0.9)
    >>> p, s = opt.update({"w": np.ones(2)}, {"w": np.ones(2)}, opt.init({"w": np.ones(2)}))
    >>> p["w"].tolist()
    [0.9, 0.9]
    """

    def __init__(self, learning_rate: float = 0.01, momentum: float = 0.0, nesterov: bool = False, **kwargs):
        super().__init__(**kwargs)
        if nesterov and not momentum:
            raise ValueError("SGD: nesterov needs a momentum > 0")
        self.learning_rate, self.momentum, self.nesterov = learning_rate, momentum, nesterov

    def init(self, params: dict) -> dict:
        return {f"velocity/{k}": np.zeros_like(p) for k, p in params.items()} if self.momentum else {}

    def update(self, params: dict, grads: dict, state: dict) -> tuple:
        grads = self._prepare(params, grads)
        if not self.momentum:
            return {k: p - self.learning_rate * grads[k] for k, p in params.items()}, state
        new_params, new_state = {}, {}
        for k, p in params.items():
            v = self.momentum * state[f"velocity/{k}"] + grads[k]
            step = grads[k] + self.momentum * v if self.nesterov else v
            new_params[k], new_state[f"velocity/{k}"] = p - self.learning_rate * step, v
        return new_params, new_state


class Adam(Optimizer):
    """Adam exactly as Kingma & Ba (2014), Algorithm 1: ``t += 1``; ``m = b1*m + (1-b1)*g``;
    ``v = b2*v + (1-b2)*g*g``; ``m_hat = m/(1-b1**t)``; ``v_hat = v/(1-b2**t)``;
    ``p -= lr * m_hat / (sqrt(v_hat) + eps)``.

    >>> import numpy as np
    >>> opt = Adam(0.1)
    >>> p, s = opt.update({"w": np.ones(1)}, {"w": np.full(1, 5.0)}, opt.init({"w": np.ones(1)}))
    >>> round(float(p["w"][0]), 6)  # the first step moves each entry by lr
    0.9
    """

    def __init__(self, learning_rate: float = 1e-3, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-8, **kwargs):
        super().__init__(**kwargs)
        self.learning_rate, self.beta_1, self.beta_2, self.epsilon = learning_rate, beta_1, beta_2, epsilon

    def init(self, params: dict) -> dict:
        dtype = next(iter(params.values())).dtype if params else np.float32
        state = {"step": np.zeros((), dtype)}
        for k, p in params.items():
            state[f"m/{k}"], state[f"v/{k}"] = np.zeros_like(p), np.zeros_like(p)
        return state

    def update(self, params: dict, grads: dict, state: dict) -> tuple:
        grads = self._prepare(params, grads)
        b1, b2 = self.beta_1, self.beta_2
        t = state["step"] + 1
        correction_1, correction_2 = 1 - b1 ** t, 1 - b2 ** t
        new_params, new_state = {}, {"step": t}
        for k, p in params.items():
            g = grads[k]
            m = b1 * state[f"m/{k}"] + (1 - b1) * g
            v = b2 * state[f"v/{k}"] + (1 - b2) * (g * g)
            m_hat, v_hat = m / correction_1, v / correction_2
            new_params[k] = p - self.learning_rate * m_hat / (_xp(v_hat).sqrt(v_hat) + self.epsilon)
            new_state[f"m/{k}"], new_state[f"v/{k}"] = m, v
        return new_params, new_state
