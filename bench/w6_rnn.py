"""W6 recurrent networks, forward and backward of every parameter, float32.

LSTM: input 32, hidden 128, 50 steps, batch 32; the loss is the mean squared error of a linear
readout (128 -> 1) of the last hidden state. Tiny Elman RNN: a vocabulary of 27 characters
one-hot, hidden 64, 25 steps, batch 1, softmax cross-entropy of a readout (64 -> 27) at every
step. Each implementation is a pure function of the parameters and the batch returning
``(loss, gradient of each parameter)`` in adjit's layout (Keras': kernels (in, k*H), gates i, f,
g, o); adjit's is one graph (``value_and_grad`` of ``nn.LSTM`` / ``nn.SimpleRNN``: a forward scan
and a reverse scan, the LSTM's steps the fused cell kernel) compiled as one function. PyTorch
eager runs ``nn.LSTM`` (oneDNN's fused LSTM on this CPU build) and, for the RNN, a hand-written
cell loop as the issue asks (``nn.RNN`` is the extra row); JAX runs ``lax.scan`` under ``jit``.
"""
from __future__ import annotations

from functools import partial

import numpy as np

from adjit import engine, nn, ops

NAME = "w6"
TITLE = "W6 recurrent networks: LSTM 32-128, 50 steps, batch 32; Elman RNN 27-64-27, 25 steps, batch 1; float32"
TASKS = ("lstm", "rnn")
TASK_TITLES = {"lstm": "LSTM loss and gradients", "rnn": "RNN loss and gradients"}
ADJIT_TARGETS = ("cpu", "numpy")
TOL = 1e-3  # float32: normwise relative error of the loss and of each gradient
LSTM_PARAMS = ("kernel", "recurrent_kernel", "bias", "readout", "readout_bias")
RNN_PARAMS = ("W", "U", "b", "V", "c")


def inputs(quick: bool) -> dict:
    r = np.random.default_rng(0)
    n, steps, features, hidden = (4, 5, 8, 16) if quick else (32, 50, 32, 128)
    vocab, units, length = 27, 64, (5 if quick else 25)

    def uniform(*shape, fan):  # PyTorch's default: U(-1/sqrt(hidden), 1/sqrt(hidden))
        return r.uniform(-1, 1, size=shape).astype(np.float32) / np.float32(np.sqrt(fan))
    text = r.integers(0, vocab, size=length + 1)
    return {"lstm": {"kernel": uniform(features, 4 * hidden, fan=hidden),
                     "recurrent_kernel": uniform(hidden, 4 * hidden, fan=hidden),
                     "bias": uniform(4 * hidden, fan=hidden), "readout": uniform(hidden, 1, fan=hidden),
                     "readout_bias": uniform(1, fan=hidden),
                     "x": r.normal(size=(n, steps, features)).astype(np.float32),
                     "y": r.normal(size=(n, 1)).astype(np.float32)},
            "rnn": {"W": uniform(vocab, units, fan=units), "U": uniform(units, units, fan=units),
                    "b": uniform(units, fan=units), "V": uniform(units, vocab, fan=units),
                    "c": uniform(vocab, fan=units),
                    "x": np.eye(vocab, dtype=np.float32)[text[:-1]][None], "labels": text[1:][None]}}


def _args(inp, task) -> tuple:
    names = LSTM_PARAMS + ("x", "y") if task == "lstm" else RNN_PARAMS + ("x", "labels")
    return tuple(inp[task][k] for k in names)


# --- numpy by hand: the reference (in float64) and a peer (float32) -----------------------------
def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _lstm_numpy(K, R, b, Wo, bo, x, y):
    n, steps, _ = x.shape
    hidden = R.shape[0]
    h, c = np.zeros((n, hidden), x.dtype), np.zeros((n, hidden), x.dtype)
    saved = []
    for t in range(steps):
        z = x[:, t] @ K + h @ R + b
        i, f, o = _sigmoid(z[:, :hidden]), _sigmoid(z[:, hidden:2 * hidden]), _sigmoid(z[:, 3 * hidden:])
        g = np.tanh(z[:, 2 * hidden:3 * hidden])
        saved.append((h, c, i, f, g, o))
        c = f * c + i * g
        h = o * np.tanh(c)
    diff = h @ Wo + bo - y
    loss = np.mean(diff ** 2)
    dpred = 2 * diff / diff.size
    dK, dR, db = np.zeros_like(K), np.zeros_like(R), np.zeros_like(b)
    dWo, dbo = h.T @ dpred, dpred.sum(axis=0)
    dh, dc = dpred @ Wo.T, np.zeros_like(c)
    for t in range(steps - 1, -1, -1):
        h_prev, c_prev, i, f, g, o = saved[t]
        tc = np.tanh(f * c_prev + i * g)
        dc = dc + dh * o * (1 - tc ** 2)
        dz = np.concatenate([dc * g * i * (1 - i), dc * c_prev * f * (1 - f), dc * i * (1 - g ** 2),
                             dh * tc * o * (1 - o)], axis=1)
        dK += x[:, t].T @ dz
        dR += h_prev.T @ dz
        db += dz.sum(axis=0)
        dh, dc = dz @ R.T, dc * f
    return loss, dK, dR, db, dWo, dbo


def _rnn_numpy(W, U, b, V, c, x, labels):
    n, steps, vocab = x.shape
    h, hs = np.zeros((n, U.shape[0]), x.dtype), []
    for t in range(steps):
        h = np.tanh(x[:, t] @ W + h @ U + b)
        hs.append(h)
    H = np.stack(hs, axis=1)
    logits = H @ V + c
    shifted = logits - logits.max(axis=-1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    onehot = np.eye(vocab, dtype=x.dtype)[labels]
    loss = -np.sum(logp * onehot) / (n * steps)
    dlogits = (np.exp(logp) - onehot) / (n * steps)
    dV, dc = np.einsum("nth,ntv->hv", H, dlogits), dlogits.sum(axis=(0, 1))
    dW, dU, db = np.zeros_like(W), np.zeros_like(U), np.zeros_like(b)
    dh_next = np.zeros_like(h)
    for t in range(steps - 1, -1, -1):
        dpre = (dlogits[:, t] @ V.T + dh_next) * (1 - hs[t] ** 2)
        h_prev = hs[t - 1] if t else np.zeros_like(h)
        dW += x[:, t].T @ dpre
        dU += h_prev.T @ dpre
        db += dpre.sum(axis=0)
        dh_next = dpre @ U.T
    return loss, dW, dU, db, dV, dc


def _float64(args) -> list:
    return [a.astype(np.float64) if a.dtype.kind == "f" else a for a in args]


def reference(inp) -> dict:
    return {"lstm": _lstm_numpy(*_float64(_args(inp, "lstm"))), "rnn": _rnn_numpy(*_float64(_args(inp, "rnn")))}


def numpy_by_hand(inp) -> dict:
    return {"lstm": partial(_lstm_numpy, *_args(inp, "lstm")), "rnn": partial(_rnn_numpy, *_args(inp, "rnn"))}


# --- adjit ---------------------------------------------------------------------------------------
def adjit(inp) -> dict:
    lstm, rnn = inp["lstm"], inp["rnn"]
    hidden, units = lstm["recurrent_kernel"].shape[0], rnn["U"].shape[0]
    lstm_layer, rnn_layer = nn.LSTM(hidden), nn.SimpleRNN(units, return_sequences=True)

    def lstm_loss(kernel, recurrent_kernel, bias, readout, readout_bias, x, y):
        h = lstm_layer({"kernel": kernel, "recurrent_kernel": recurrent_kernel, "bias": bias}, x)
        return ops.mean((h @ readout + readout_bias - y) ** 2)

    def rnn_loss(W, U, b, V, c, x, labels):
        logits = rnn_layer({"kernel": W, "recurrent_kernel": U, "bias": b}, x) @ V + c
        onehot = ops.convert(ops.equal(ops.expand_dims(labels, -1), np.arange(logits.shape[-1])), "float32")
        return -ops.mean(ops.sum(ops.log_softmax(logits) * onehot, axis=-1))

    def specs(arrays, names, data):
        out = [engine.Spec(arrays[k].shape, "float32") for k in names]
        return out + [engine.Spec((None,) + arrays[k].shape[1:], arrays[k].dtype.name) for k in data]
    steps = {}
    for task, loss, names, data in (("lstm", lstm_loss, LSTM_PARAMS, ("x", "y")), ("rnn", rnn_loss, RNN_PARAMS, ("x", "labels"))):
        f = engine.trace(loss, *specs(inp[task], names, data))
        steps[task] = (engine.value_and_grad(f, wrt=list(names)), _args(inp, task))
    return steps


# --- peers ---------------------------------------------------------------------------------------
def _torch(arrays, names, requires_grad=True) -> list:
    import torch
    return [torch.from_numpy(np.ascontiguousarray(arrays[k])).requires_grad_(requires_grad) for k in names]


def _torch_lstm_module(arrays):
    """``torch.nn.LSTM`` holding our LSTM's weights (transposed; the bias on the input side)."""
    import torch
    hidden = arrays["recurrent_kernel"].shape[0]
    module = torch.nn.LSTM(arrays["kernel"].shape[0], hidden, batch_first=True)
    with torch.no_grad():
        module.weight_ih_l0.copy_(torch.from_numpy(arrays["kernel"].T.copy()))
        module.weight_hh_l0.copy_(torch.from_numpy(arrays["recurrent_kernel"].T.copy()))
        module.bias_ih_l0.copy_(torch.from_numpy(arrays["bias"]))
        module.bias_hh_l0.zero_()
    return module


def _torch_rnn_loop(W, U, b, V, c, x, labels):
    """The Elman RNN as a cell loop, the issue's PyTorch peer for the tiny RNN."""
    import torch
    import torch.nn.functional as F
    h, hs = x.new_zeros((x.shape[0], U.shape[0])), []
    for t in range(x.shape[1]):
        h = torch.tanh(x[:, t] @ W + h @ U + b)
        hs.append(h)
    logits = torch.stack(hs, dim=1) @ V + c
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1))


def torch_eager(inp) -> dict:
    import torch
    lstm = inp["lstm"]
    module = _torch_lstm_module(lstm)
    readout = _torch(lstm, ("readout", "readout_bias"))
    lstm_params = [module.weight_ih_l0, module.weight_hh_l0, module.bias_ih_l0] + readout
    x, y = torch.from_numpy(lstm["x"]), torch.from_numpy(lstm["y"])

    def lstm_step():
        out, _ = module(x)
        loss = torch.mean((out[:, -1] @ readout[0] + readout[1] - y) ** 2)
        g = torch.autograd.grad(loss, lstm_params)
        return loss.detach(), g[0].T, g[1].T, g[2], g[3], g[4]

    rnn = inp["rnn"]
    params = _torch(rnn, RNN_PARAMS)
    rx, labels = torch.from_numpy(rnn["x"]), torch.from_numpy(rnn["labels"])

    def rnn_step():
        loss = _torch_rnn_loop(*params, rx, labels)
        return (loss.detach(),) + torch.autograd.grad(loss, params)
    return {"lstm": lstm_step, "rnn": rnn_step}


def torch_rnn_module(inp) -> dict:
    """The tiny RNN with ``torch.nn.RNN`` (one fused call per direction) instead of a cell loop."""
    import torch
    import torch.nn.functional as F
    rnn = inp["rnn"]
    module = torch.nn.RNN(rnn["W"].shape[0], rnn["U"].shape[0], batch_first=True)
    with torch.no_grad():
        module.weight_ih_l0.copy_(torch.from_numpy(rnn["W"].T.copy()))
        module.weight_hh_l0.copy_(torch.from_numpy(rnn["U"].T.copy()))
        module.bias_ih_l0.copy_(torch.from_numpy(rnn["b"]))
        module.bias_hh_l0.zero_()
    V, c = _torch(rnn, ("V", "c"))
    params = [module.weight_ih_l0, module.weight_hh_l0, module.bias_ih_l0, V, c]
    x, labels = torch.from_numpy(rnn["x"]), torch.from_numpy(rnn["labels"])

    def step():
        logits = module(x)[0] @ V + c
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1))
        g = torch.autograd.grad(loss, params)
        return loss.detach(), g[0].T, g[1].T, g[2], g[3], g[4]
    return {"rnn": step}


def torch_compiled(inp) -> dict:
    """``torch.compile`` of ``grad_and_value`` of each loss written as a cell loop (dynamo
    unrolls the loop)."""
    import torch

    def lstm_loss(params, x, y):
        K, R, b, Wo, bo = params
        hidden = R.shape[0]
        h = c = x.new_zeros((x.shape[0], hidden))
        for t in range(x.shape[1]):
            i, f, g, o = (x[:, t] @ K + h @ R + b).split(hidden, dim=1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
        return torch.mean((h @ Wo + bo - y) ** 2)

    def compiled(loss):
        grad_and_value = torch.func.grad_and_value(loss)

        @torch.compile
        def step(params, *data):
            grads, value = grad_and_value(params, *data)
            return (value,) + tuple(grads)
        return step
    lstm_step = compiled(lstm_loss)
    rnn_step = compiled(lambda params, x, labels: _torch_rnn_loop(*params, x, labels))
    lstm, rnn = inp["lstm"], inp["rnn"]
    return {"lstm": partial(lstm_step, tuple(_torch(lstm, LSTM_PARAMS, False)), *_torch(lstm, ("x", "y"), False)),
            "rnn": partial(rnn_step, tuple(_torch(rnn, RNN_PARAMS, False)), *_torch(rnn, ("x", "labels"), False))}


def jax_jit(inp) -> dict:
    import jax
    import jax.numpy as jnp

    def lstm_loss(params, x, y):
        K, R, b, Wo, bo = params
        hidden = R.shape[0]

        def cell(carry, x_t):
            h, c = carry
            i, f, g, o = jnp.split(x_t @ K + h @ R + b, 4, axis=-1)
            c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
            return (jax.nn.sigmoid(o) * jnp.tanh(c), c), None
        zeros = jnp.zeros((x.shape[0], hidden), x.dtype)
        (h, _), _ = jax.lax.scan(cell, (zeros, zeros), jnp.swapaxes(x, 0, 1))
        return jnp.mean((h @ Wo + bo - y) ** 2)

    def rnn_loss(params, x, labels):
        W, U, b, V, c = params

        def cell(h, x_t):
            h = jnp.tanh(x_t @ W + h @ U + b)
            return h, h
        _, hs = jax.lax.scan(cell, jnp.zeros((x.shape[0], U.shape[0]), x.dtype), jnp.swapaxes(x, 0, 1))
        logp = jax.nn.log_softmax(jnp.swapaxes(hs, 0, 1) @ V + c)
        return -jnp.mean(jnp.take_along_axis(logp, labels[..., None], axis=-1))

    out = {}
    for task, loss, names, data in (("lstm", lstm_loss, LSTM_PARAMS, ("x", "y")), ("rnn", rnn_loss, RNN_PARAMS, ("x", "labels"))):
        step = jax.jit(jax.value_and_grad(loss))
        params = tuple(jax.device_put(inp[task][k]) for k in names)
        batch = [jax.device_put(inp[task][k]) for k in data]

        def run(step=step, params=params, batch=batch):
            value, grads = jax.block_until_ready(step(params, *batch))
            return (value,) + tuple(grads)
        out[task] = run
    return out


PEERS = [("numpy by hand", "numpy", numpy_by_hand), ("PyTorch eager", "torch", torch_eager),
         ("PyTorch eager nn.RNN", "torch", torch_rnn_module), ("torch.compile", "torch", torch_compiled),
         ("JAX jit", "jax", jax_jit)]


def targets(results, compile_times) -> list:
    """Issue #5: the LSTM no slower than PyTorch eager (nn.LSTM); the tiny RNN at least 5x faster
    than PyTorch eager (a cell loop); cold compile of each step under W3's 3 s."""
    from .report import target_row
    rows = []
    for threads, res in results.items():
        for task, goal, what in (("lstm", 1.0, "W6: LSTM no slower than PyTorch eager nn.LSTM"),
                                 ("rnn", 0.2, "W6: tiny RNN at least 5x faster than PyTorch eager (cell loop)")):
            a, label = res.adjit(task)
            peer = res.time("PyTorch eager", task)
            rows.append(target_row(f"{what} ({label or 'adjit'})", threads,
                                   None if a is None or peer is None else a / peer, goal, "x",
                                   busy=res.busy(label, "PyTorch eager")))
    for task, probe in compile_times.items():
        rows.append(target_row(f"W6: cold compile of the {task.upper()} step < 3 s (new process, empty cache; "
                               "W3's goal)", 1, probe[0]["total"], 3.0, " s"))
    return rows
