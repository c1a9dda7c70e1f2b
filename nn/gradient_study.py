"""Vanishing and exploding gradients: ||dL/dh_0|| against the sequence length T.

For an Elman RNN ``h_t = tanh(W h_{t-1} + U x_t)`` the gradient reaching the first state is a
product of T Jacobians ``diag(1 - h_t**2) W^T``: with every singular value of W equal to sigma
(W = sigma * an orthogonal matrix) and states small enough for tanh to be linear, its norm is
sigma**T: it vanishes below 1 and explodes above. Clipping by global norm bounds what an update
sees; the LSTM's additive cell path ``c_t = f*c_{t-1} + i*g`` passes the gradient on scaled by
the forget gates, which the network can hold near 1.

The loss is ``L = v . h_T`` (v a fixed unit vector), inputs are zeros and h_0 is tiny (1e-6), so
that the measurement sees the recurrence and nothing else. One compiled gradient per model
serves every T (the scan runs over a dynamic number of steps).
"""
from __future__ import annotations

import numpy as np

from .. import compiler, engine, ops
from . import initializers
from .optim import clip_by_global_norm
from .plotting import pyplot, save_png
from .recurrent import elman_cell, lstm_cell

LENGTHS = (1, 2, 5, 10, 20, 50, 100)
UNITS = 32


def _elman_loss(sigma: float, units: int, seed: int):
    rng = np.random.default_rng(seed)
    params = {"kernel": np.zeros((units, units)),
              "recurrent_kernel": sigma * initializers.orthogonal(rng, (units, units), dtype="float64"),
              "bias": np.zeros(units)}
    v = rng.normal(size=units)
    v /= np.linalg.norm(v)

    def loss(h0, xs):
        h_T, _ = ops.scan(lambda h, x: (elman_cell(params, h, x),) * 2, h0, xs)
        return ops.sum(h_T * v)
    return loss


def _lstm_loss(forget_bias: float, units: int, seed: int):
    rng = np.random.default_rng(seed)
    kernel = initializers.glorot_uniform(rng, (units, 4 * units), units, 4 * units, "float64")
    recurrent = initializers.orthogonal(rng, (units, 4 * units), dtype="float64")
    bias = np.zeros(4 * units)
    bias[units:2 * units] = forget_bias
    params = {"kernel": kernel, "recurrent_kernel": recurrent, "bias": bias}
    v = rng.normal(size=units)
    v /= np.linalg.norm(v)

    def loss(h0, xs):
        (h_T, _), _ = ops.scan(lambda hc, x: (lstm_cell(params, hc, x), hc[0]), (h0, h0 * 0.0), xs)
        return ops.sum(h_T * v)
    return loss


def gradient_norms(loss, lengths=LENGTHS, units: int = UNITS, seed: int = 0) -> list:
    """||dL/dh_0|| for each T in ``lengths`` (one compiled gradient for all of them)."""
    h0 = 1e-6 * np.random.default_rng(seed + 1).normal(size=(1, units))
    grad = compiler.jit(engine.grad(engine.trace(loss, engine.Spec((1, units)), engine.Spec((None, 1, units))),
                                    wrt="h0"), "cpu")
    return [float(np.linalg.norm(grad(h0, np.zeros((T, 1, units))))) for T in lengths]


def study(lengths=LENGTHS, units: int = UNITS, seed: int = 0) -> dict:
    """The table: rows of ||dL/dh_0|| per model, per T."""
    rows = {}
    for sigma in (0.9, 1.0, 1.1):
        loss = _elman_loss(sigma, units, seed)
        rows[f"Elman, sigma_max(W) = {sigma}"] = gradient_norms(loss, lengths, units, seed)
    exploding = rows["Elman, sigma_max(W) = 1.1"]
    rows["Elman 1.1, clipped to norm 1"] = [float(np.linalg.norm(
        clip_by_global_norm({"g": np.array([n])}, 1.0)["g"])) for n in exploding]
    for forget_bias in (1.0, 2.0):
        loss = _lstm_loss(forget_bias, units, seed)
        rows[f"LSTM, forget bias {forget_bias:g}"] = gradient_norms(loss, lengths, units, seed)
    return {"lengths": list(lengths), "rows": rows}


def format_table(result: dict) -> str:
    lengths, rows = result["lengths"], result["rows"]
    width = max(len(k) for k in rows) + 2
    lines = ["||dL/dh_0|| against the sequence length T", "",
             "model".ljust(width) + "".join(f"T={T:<9d}" for T in lengths)]
    for name, values in rows.items():
        lines.append(name.ljust(width) + "".join(f"{v:<11.3g}" for v in values))
    return "\n".join(lines)


def plot(result: dict, path) -> None:
    """A PNG: one curve per model, log scale."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, values in result["rows"].items():
        ax.semilogy(result["lengths"], values, marker="o", label=name)
    ax.set_xlabel("sequence length T")
    ax.set_ylabel("||dL/dh_0||")
    ax.set_title("Vanishing and exploding gradients")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    save_png(fig, path)
