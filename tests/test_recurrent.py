"""Recurrent layers: shapes, the cells against numpy transcriptions, PyTorch agreement (optional),
the character example and the LSTM demo."""
from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from adjit import compiler, engine, nn, ops
from adjit.nn import recurrent as R

ROOT = Path(__file__).resolve().parent.parent


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _numpy_run(kind, p, x, reset_after=False):
    """The three recurrences written out in numpy, batch-major, returning every state."""
    n, steps, _ = x.shape
    units = p["recurrent_kernel"].shape[0]
    h, c, out = np.zeros((n, units)), np.zeros((n, units)), []
    for t in range(steps):
        if kind == "elman":
            h = np.tanh(x[:, t] @ p["kernel"] + h @ p["recurrent_kernel"] + p["bias"])
        elif kind == "lstm":
            z = x[:, t] @ p["kernel"] + h @ p["recurrent_kernel"] + p["bias"]
            i, f, g, o = np.split(z, 4, axis=-1)
            c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
            h = _sigmoid(o) * np.tanh(c)
        else:
            W, U = np.split(p["kernel"], 3, axis=-1), np.split(p["recurrent_kernel"], 3, axis=-1)
            bx, bh = (p["bias"][0], p["bias"][1]) if reset_after else (p["bias"], np.zeros_like(p["bias"]))
            bx, bh = np.split(bx, 3), np.split(bh, 3)
            z = _sigmoid(x[:, t] @ W[0] + bx[0] + h @ U[0] + bh[0])
            r = _sigmoid(x[:, t] @ W[1] + bx[1] + h @ U[1] + bh[1])
            cand = np.tanh(x[:, t] @ W[2] + bx[2] + r * (h @ U[2] + bh[2])) if reset_after else \
                np.tanh(x[:, t] @ W[2] + bx[2] + (r * h) @ U[2])
            h = z * h + (1 - z) * cand
        out.append(h)
    return np.stack(out, axis=1)


LAYERS = {"elman": lambda: R.SimpleRNN(5, return_sequences=True), "lstm": lambda: R.LSTM(5, return_sequences=True),
          "gru": lambda: R.GRU(5, return_sequences=True), "gru_reset_after": lambda: R.GRU(5, True, reset_after=True)}


@pytest.mark.parametrize("name", list(LAYERS))
def test_layers_match_numpy_transcriptions(name):
    layer = LAYERS[name]()
    p = {k: v.astype(np.float64) + 0.1 for k, v in layer.init(0, (6, 3)).items()}
    x = np.random.default_rng(1).normal(size=(2, 6, 3))
    f = engine.trace(lambda k, r, b, x: layer({"kernel": k, "recurrent_kernel": r, "bias": b}, x), *p.values(), x)
    want = _numpy_run(name.split("_")[0], p, x, reset_after=name.endswith("after"))
    np.testing.assert_allclose(compiler.jit(f, "numpy")(*p.values(), x), want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", list(LAYERS))
def test_many_to_one_is_the_last_state_of_many_to_many(name):
    """Without ``return_sequences`` the output is the final carry's state (no stack of states is
    kept): the same value and the same gradients as the last row of the sequence output."""
    seq = LAYERS[name]()
    last = copy.copy(seq)
    last.return_sequences = False
    p = {k: v.astype(np.float64) + 0.1 for k, v in seq.init(0, (6, 3)).items()}
    x = np.random.default_rng(2).normal(size=(2, 6, 3))
    w = np.random.default_rng(3).normal(size=5)
    fns = [engine.trace(lambda k, r, b, x: ops.sum(ops.tanh(h({"kernel": k, "recurrent_kernel": r, "bias": b}, x)) * w),
                        *p.values(), x) for h in (last, lambda q, x: seq(q, x)[:, -1])]
    assert not any(n.prim == "getitem" and n.inputs[0].prim == "result" for n in fns[0].nodes)
    got, want = (engine.value_and_grad(f)(*p.values(), x) for f in fns)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_an_lstm_step_is_one_fused_cell_forward_and_one_backward():
    """The optimized gradient graph of an LSTM layer: one forward loop whose body calls the fused
    cell, one reverse loop calling its backward; no gate slices, their adjoints or sigmoids left."""
    from adjit.compiler import passes
    from support import all_nodes
    layer = R.LSTM(4)
    p = layer.init(0, (5, 3))
    f = engine.trace(lambda k, r, b, x: ops.sum(layer({"kernel": k, "recurrent_kernel": r, "bias": b}, x) ** 2),
                     *p.values(), np.zeros((2, 5, 3), np.float32))
    g = passes.optimize(engine.value_and_grad(f, wrt=[0, 1, 2]))
    prims = [n.prim for n in all_nodes(g)]
    assert prims.count("scan") == 2 and prims.count("lstm_cell") == 1 and prims.count("lstm_cell_grad") == 1
    assert not {"getitem_grad", "concatenate", "sigmoid"} & set(prims), sorted(set(prims))


def test_layer_shapes_counts_and_the_forget_bias():
    model = nn.Sequential([nn.LSTM(8, return_sequences=True), nn.GRU(4), nn.Dense(2)], input_shape=(None, 3))
    assert model.output_shape() == (None, 2)
    assert model.count_params() == (3 * 32 + 8 * 32 + 32) + (8 * 12 + 4 * 12 + 12) + (4 * 2 + 2)
    bias = nn.LSTM(4).init(0, (7, 3))["bias"]
    assert bias.tolist() == [0.0] * 4 + [1.0] * 4 + [0.0] * 8
    rec = nn.SimpleRNN(6).init(0, (7, 3))["recurrent_kernel"]
    np.testing.assert_allclose(rec @ rec.T, np.eye(6), atol=1e-6)  # orthogonal recurrent kernel


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_values_and_gradients_agree_with_pytorch(kind):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    module = getattr(torch.nn, kind)(3, 4, batch_first=True).double()
    layer = {"RNN": R.SimpleRNN, "LSTM": R.LSTM, "GRU": lambda u, s: R.GRU(u, s, reset_after=True)}[kind](4, True)
    p = R.from_torch(module)
    x = np.random.default_rng(0).normal(size=(2, 5, 3))
    f = engine.trace(lambda k, r, b, x: ops.sum(layer({"kernel": k, "recurrent_kernel": r, "bias": b}, x) ** 2),
                     *p.values(), x)
    value, dk, dr, db, dx = compiler.jit(engine.value_and_grad(f, wrt=[0, 1, 2, 3]), "numpy")(*p.values(), x)
    xt = torch.tensor(x, requires_grad=True)
    loss = (module(xt)[0] ** 2).sum()
    loss.backward()
    assert abs(value - loss.item()) < 1e-5 * abs(loss.item())
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-5, atol=1e-8)
    grads_module = copy.deepcopy(module)  # the gradients in our layout: the same mapping as the weights
    for name, param in grads_module.named_parameters():
        param.data = getattr(module, name).grad.clone()
    torch_grads = R.from_torch(grads_module)
    if kind == "GRU":  # our two bias rows are torch's two biases
        np.testing.assert_allclose(db, torch_grads["bias"], rtol=1e-5, atol=1e-8)
    else:  # bias = bias_ih + bias_hh: its gradient is either one's
        np.testing.assert_allclose(db, module.bias_ih_l0.grad.numpy(), rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(dk, torch_grads["kernel"], rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(dr, torch_grads["recurrent_kernel"], rtol=1e-5, atol=1e-8)


def test_the_hello_example_learns_the_next_character():
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "hello.py")], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "'hell' -> 'ello'" in out.stdout
