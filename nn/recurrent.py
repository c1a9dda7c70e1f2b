"""Recurrent cells as pure functions, and the layers that scan them over time.

Parameters follow Keras' layout: ``kernel`` (F, k*H) applied to the input, ``recurrent_kernel``
(H, k*H) applied to the state, ``bias``; gates are packed along the last axis. Inputs are
batch-major (N, T, F), as in Keras; the layers scan over T with ``ops.scan`` (a loop in the
compiled code, never unrolled).

PyTorch's ``nn.RNN``/``nn.LSTM``/``nn.GRU`` (one layer, ``batch_first=True``) hold the same
numbers transposed: ``kernel = weight_ih_l0.T``, ``recurrent_kernel = weight_hh_l0.T``;
Elman and LSTM: ``bias = bias_ih_l0 + bias_hh_l0`` (LSTM gate order i, f, g, o in both);
GRU with ``reset_after=True`` (PyTorch's variant): ``bias = stack([bias_ih_l0, bias_hh_l0])``,
with PyTorch's gate order (r, z, n) reordered to ours (z, r, h). ``from_torch`` below does it.
"""
from __future__ import annotations

import numpy as np

from .. import ops
from . import initializers
from .layers import Layer, Param


def _gates(z, k: int, units: int) -> list:
    return [z[..., j * units:(j + 1) * units] for j in range(k)]


def elman_cell(params: dict, h, x):
    """``h_t = tanh(x_t W + h_{t-1} U + b)`` (Elman 1990)."""
    return ops.tanh(x @ params["kernel"] + h @ params["recurrent_kernel"] + params["bias"])


def lstm_cell(params: dict, carry, x):
    """Hochreiter & Schmidhuber's LSTM with a forget gate: gates i, f, g, o from
    ``x_t W + h_{t-1} U + b``; ``c_t = f*c_{t-1} + i*g``; ``h_t = o*tanh(c_t)``."""
    h, c = carry
    return ops.lstm_cell(x @ params["kernel"] + h @ params["recurrent_kernel"] + params["bias"], c)


def gru_cell(params: dict, h, x, reset_after: bool = False):
    """The GRU of Cho et al. (2014): update gate z, reset gate r,
    ``h~ = tanh(x W_h + (r*h) U_h + b_h)`` and ``h_t = z*h_{t-1} + (1-z)*h~``.
    ``reset_after=True`` is PyTorch's (and Keras 3's) variant, ``h~ = tanh(x W_h + b_h + r*(h U_h + b'_h))``,
    with a second bias row for the recurrent side."""
    units = h.shape[-1]
    kernel, recurrent = params["kernel"], params["recurrent_kernel"]
    bias = params["bias"]
    bias_x, bias_h = (bias[0], bias[1]) if reset_after else (bias, None)
    xz, xr, xh = _gates(x @ kernel + bias_x, 3, units)
    if reset_after:
        hz, hr, hh = _gates(h @ recurrent + bias_h, 3, units)
        z, r = ops.sigmoid(xz + hz), ops.sigmoid(xr + hr)
        candidate = ops.tanh(xh + r * hh)
    else:
        hz, hr = _gates(h @ recurrent[:, :2 * units], 2, units)
        z, r = ops.sigmoid(xz + hz), ops.sigmoid(xr + hr)
        candidate = ops.tanh(xh + (r * h) @ recurrent[:, 2 * units:])
    return z * h + (1.0 - z) * candidate


def zeros_state(x, units: int):
    """Zeros (N, units) for a batch-major input (N, T, F) whose N may be dynamic."""
    return ops.zeros_like(x[:, 0, 0:1]) + np.zeros(units, x.dtype)


class _Recurrent(Layer):
    """Shared by the three layers: parameters, the initial state, the scan over time."""

    gates = 1

    def __init__(self, units: int, return_sequences: bool = False, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", dtype=None, name=None):
        super().__init__(name)
        self.units, self.return_sequences, self.dtype = int(units), return_sequences, dtype
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)

    def param_specs(self, input_shape) -> dict:
        features, width = int(input_shape[-1]), self.gates * self.units
        return {"kernel": Param((features, width), self.kernel_initializer, features, width),
                "recurrent_kernel": Param((self.units, width), self.recurrent_initializer, self.units, width),
                "bias": Param(self._bias_shape(), self._bias_initializer)}

    def _bias_shape(self) -> tuple:
        return (self.gates * self.units,)

    def _bias_initializer(self, rng, shape, fan_in, fan_out, dtype):
        return np.zeros(shape, dtype)

    def initial_state(self, x):
        return zeros_state(x, self.units)

    def step(self, params, carry, x):
        """(carry, x_t) -> (carry, h_t)."""
        raise NotImplementedError

    def __call__(self, params, x, training=False, key=None):
        xs = ops.transpose(x, (1, 0, 2))  # time-major for the scan
        if self.return_sequences:
            _, hs = ops.scan(lambda carry, x_t: self.step(params, carry, x_t), self.initial_carry(x), xs)
            return ops.transpose(hs, (1, 0, 2))
        # the last state is read from the final carry: no stack of every state is kept, and the
        # gradient enters as the final carry's cotangent (not as a stack of zeros with one row set)
        carry, _ = ops.scan(lambda carry, x_t: (self.step(params, carry, x_t)[0], None), self.initial_carry(x), xs)
        return self.last_state(carry)

    def initial_carry(self, x):
        return self.initial_state(x)

    def last_state(self, carry):
        """The output h in a carry."""
        return carry


class SimpleRNN(_Recurrent):
    """Elman RNN: ``h_t = tanh(x_t W + h_{t-1} U + b)``; outputs h (the last, or all with
    ``return_sequences``). A readout ``y_t = h_t V`` is a ``Dense`` after it."""

    kind = "simple_rnn"

    def step(self, params, h, x):
        h = elman_cell(params, h, x)
        return h, h


class LSTM(_Recurrent):
    """LSTM (gates i, f, g, o); the forget gate's bias starts at 1.0 (Jozefowicz et al. 2015)."""

    kind = "lstm"
    gates = 4

    def _bias_initializer(self, rng, shape, fan_in, fan_out, dtype):
        bias = np.zeros(shape, dtype)
        bias[self.units:2 * self.units] = 1.0
        return bias

    def initial_carry(self, x):
        return (self.initial_state(x), self.initial_state(x))

    def last_state(self, carry):
        return carry[0]

    def step(self, params, carry, x):
        h, c = lstm_cell(params, carry, x)
        return (h, c), h


class GRU(_Recurrent):
    """GRU, Cho et al. (2014) by default (the reset gate applied to the state before its matrix
    product); ``reset_after=True`` for PyTorch's variant."""

    kind = "gru"
    gates = 3

    def __init__(self, units: int, return_sequences: bool = False, reset_after: bool = False, **kwargs):
        super().__init__(units, return_sequences, **kwargs)
        self.reset_after = reset_after

    def _bias_shape(self) -> tuple:
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def step(self, params, h, x):
        h = gru_cell(params, h, x, self.reset_after)
        return h, h


def from_torch(module) -> dict:
    """Our parameters from a one-layer PyTorch ``nn.RNN`` (tanh), ``nn.LSTM`` or ``nn.GRU``."""
    w_ih, w_hh = module.weight_ih_l0.detach().numpy(), module.weight_hh_l0.detach().numpy()
    b_ih, b_hh = module.bias_ih_l0.detach().numpy(), module.bias_hh_l0.detach().numpy()
    if type(module).__name__ == "GRU":  # PyTorch's gates (r, z, n) -> ours (z, r, h)
        order = np.concatenate([np.arange(h, h + module.hidden_size) for h in
                                (module.hidden_size, 0, 2 * module.hidden_size)])
        return {"kernel": w_ih[order].T.copy(), "recurrent_kernel": w_hh[order].T.copy(),
                "bias": np.stack([b_ih[order], b_hh[order]])}
    return {"kernel": w_ih.T.copy(), "recurrent_kernel": w_hh.T.copy(), "bias": b_ih + b_hh}
