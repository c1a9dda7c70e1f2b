"""Truncated backpropagation through time (``nn.tbptt``): a chunk's gradient is the unrolled
gradient with the entering state held constant, and training on a long sequence lowers the loss."""
from __future__ import annotations

import doctest
import importlib

import numpy as np
import pytest

from adjit import engine, nn, ops
from adjit.nn import recurrent as R

UNITS = 4


def _elman(p, h, x):
    h = ops.tanh(x @ p["W"] + h @ p["U"] + p["b"])
    return h, h @ p["V"]


def _unrolled(cut: int, end: int, hold: bool = True):
    """(loss, state after step ``end``) of the Elman model unrolled in Python from step 0: the mean
    squared error of steps [cut, end), the state entering step ``cut`` held constant
    (``stop_gradient``) when ``hold``."""
    def loss(W, U, b, V, h, xs, ys):
        p = {"W": W, "U": U, "b": b, "V": V}
        preds = []
        for t in range(end):
            if t == cut and hold:
                h = ops.stop_gradient(h)
            h, y = _elman(p, h, xs[:, t])
            if t >= cut:
                preds.append(y)
        return ops.mean((ops.stack(preds, axis=1) - ys[:, cut:end]) ** 2), h
    return loss


def test_a_chunk_gradient_is_the_unrolled_gradient_with_the_entering_state_held_constant():
    rng = np.random.default_rng(0)
    params = {"W": rng.normal(size=(2, UNITS)), "U": rng.normal(size=(UNITS, UNITS)) * 0.5,
              "b": rng.normal(size=UNITS) * 0.1, "V": rng.normal(size=(UNITS, 1))}
    h0, xs, ys = rng.normal(size=(3, UNITS)) * 0.5, rng.normal(size=(3, 11, 2)), rng.normal(size=(3, 11, 1))
    args, k = (*params.values(), h0, xs, ys), 4
    trainer = nn.TBPTT(_elman, "mse", nn.optim.SGD(0.1), params, h0, xs[:, :k], ys[:, :k], target="numpy")

    def unrolled_grads(cut, end, hold):
        f = engine.trace(_unrolled(cut, end, hold), *args)
        return f(*args), engine.grad(engine.Function(f.inputs, f.outputs[0]), wrt=list(params))(*args)

    h = h0
    for start in range(0, 11, k):  # the chunks [0, 4), [4, 8) and the shorter [8, 11)
        value, grads, h_next = trainer.gradient(params, h, xs[:, start:start + k], ys[:, start:start + k])
        (want_value, want_h), want = unrolled_grads(start, min(start + k, 11), hold=True)
        np.testing.assert_allclose(value, want_value, rtol=1e-12)
        np.testing.assert_allclose(h_next, want_h, rtol=1e-12, atol=1e-14)  # the state runs on
        for name, g in zip(params, want):
            np.testing.assert_allclose(grads[name], g, rtol=1e-10, atol=1e-14, err_msg=f"chunk at {start}: d/d{name}")
        h = h_next
    _, through = unrolled_grads(8, 11, hold=False)  # without the cut, the last chunk's U gradient differs
    assert np.abs(through[1] - grads["U"]).max() > 1e-3 * np.abs(grads["U"]).max()


def test_training_an_lstm_on_a_long_sine_lowers_the_loss():
    """Predict the next value of two sine waves, 2000 steps each, in chunks of 25 steps (LSTM
    with the fused cell, cpu target): the loss of the third epoch is a fraction of the first's."""
    t = np.arange(2001)
    waves = np.stack([np.sin(0.07 * t), 0.5 * np.sin(0.13 * t + 1.0)])[:, :, None].astype(np.float32)
    layer = R.LSTM(8, dtype="float32")
    params = dict(layer.init(0, (None, 1)), readout=np.random.default_rng(1).normal(size=(8, 1)).astype(np.float32) * 0.3)

    def step(p, carry, x):
        h, c = R.lstm_cell(p, carry, x)
        return (h, c), h @ p["readout"]
    zeros = np.zeros((2, 8), np.float32)
    params, (h, c), history = nn.tbptt_fit(step, params, (zeros, zeros), waves[:, :-1], waves[:, 1:], k=25,
                                           loss="mse", optimizer=nn.optim.Adam(0.01), epochs=3)
    losses = history["loss"]
    assert losses[2] < 0.3 * losses[0], losses
    assert h.shape == (2, 8) and h.dtype == np.float32 and np.abs(c).max() > 0
    assert params["kernel"].dtype == np.float32 and history.state


def test_bad_arguments_are_one_line():
    step, xs = _elman, np.zeros((1, 5, 2))
    with pytest.raises(ValueError, match="k must be a positive int"):
        nn.tbptt_fit(step, {}, np.zeros((1, 4)), xs, xs[..., :1], k=0, loss="mse", optimizer=nn.optim.SGD(0.1))
    with pytest.raises(ValueError, match=r"xs \(1, 5, 2\) and ys \(1, 4, 1\) differ"):
        nn.tbptt_fit(step, {}, np.zeros((1, 4)), xs, xs[:, :4, :1], k=2, loss="mse", optimizer=nn.optim.SGD(0.1))


@pytest.mark.parametrize("name", ["adjit.nn.tbptt", "adjit.ops.lstm"])
def test_docstring_examples_run(name):
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0
