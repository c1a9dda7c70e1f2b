"""W4 LeNet step: batch 32 of 28x28x1, float32; forward and backward of all parameters.

conv 6@5x5 + relu + maxpool 2, conv 16@5x5 + relu + maxpool 2, flatten, dense 120 + relu,
dense 10, softmax cross-entropy on integer labels (mean over the batch). Each implementation is a
pure function of the parameters and the batch returning ``(loss, gradient of each parameter)``;
adjit's is one graph (``value_and_grad``) compiled as one function.
"""
from __future__ import annotations

from functools import partial

import numpy as np

from adjit import engine, ops

NAME = "w4"
TITLE = "W4 LeNet step: batch 32 of 28x28x1, conv-relu-pool x2, dense 120, dense 10, float32"
TASKS = ("step",)
TASK_TITLES = {"step": "loss and gradients"}
ADJIT_TARGETS = ("cpu", "cpu-parallel", "numpy")
TOL = 1e-3  # float32: normwise relative error of the loss and each gradient
PARAMS = ("K1", "c1", "K2", "c2", "W3", "b3", "W4", "b4")
PROFILE = ("step",)


def inputs(quick: bool) -> dict:
    r = np.random.default_rng(0)
    batch = 4 if quick else 32

    def glorot(*shape, fan_in, fan_out):
        return (r.uniform(-1, 1, size=shape) * np.sqrt(6 / (fan_in + fan_out))).astype(np.float32)
    return {"K1": glorot(5, 5, 1, 6, fan_in=25, fan_out=150), "c1": np.zeros(6, np.float32),
            "K2": glorot(5, 5, 6, 16, fan_in=150, fan_out=400), "c2": np.zeros(16, np.float32),
            "W3": glorot(256, 120, fan_in=256, fan_out=120), "b3": np.zeros(120, np.float32),
            "W4": glorot(120, 10, fan_in=120, fan_out=10), "b4": np.zeros(10, np.float32),
            "x": r.uniform(0, 1, size=(batch, 28, 28, 1)).astype(np.float32),
            "labels": r.integers(0, 10, batch)}


def _args(inp) -> tuple:
    return tuple(inp[k] for k in PARAMS + ("x", "labels"))


# --- numpy by hand: the reference (in float64) and a peer (float32) -----------------------------
def _conv(x, k):
    """Valid cross-correlation, stride 1: (N,H,W,C) x (KH,KW,C,O) -> (N,OH,OW,O)."""
    windows = np.lib.stride_tricks.sliding_window_view(x, k.shape[:2], axis=(1, 2))  # N,OH,OW,C,KH,KW
    return np.einsum("nijcab,abco->nijo", windows, k, optimize=True)


def _conv_grads(x, k, dout):
    windows = np.lib.stride_tricks.sliding_window_view(x, k.shape[:2], axis=(1, 2))
    dk = np.einsum("nijcab,nijo->abco", windows, dout, optimize=True)
    dx = np.zeros_like(x)
    oh, ow = dout.shape[1:3]
    for a in range(k.shape[0]):
        for b in range(k.shape[1]):
            dx[:, a:a + oh, b:b + ow, :] += dout @ k[a, b].T
    return dx, dk


def _pool(x):
    """2x2 max pooling, stride 2, and the mask of each window's first maximum."""
    n, h, w, c = x.shape
    win = x.reshape(n, h // 2, 2, w // 2, 2, c).transpose(0, 1, 3, 5, 2, 4).reshape(n, h // 2, w // 2, c, 4)
    first = np.argmax(win, axis=-1)
    mask = np.arange(4) == first[..., None]
    return win.max(axis=-1), mask


def _unpool(dout, mask):
    n, oh, ow, c = dout.shape
    d = (mask * dout[..., None]).reshape(n, oh, ow, c, 2, 2).transpose(0, 1, 4, 2, 5, 3)
    return d.reshape(n, oh * 2, ow * 2, c)


def _numpy_step(K1, c1, K2, c2, W3, b3, W4, b4, x, labels):
    n = x.shape[0]
    z1 = _conv(x, K1) + c1
    p1, m1 = _pool(np.maximum(z1, 0))
    z2 = _conv(p1, K2) + c2
    p2, m2 = _pool(np.maximum(z2, 0))
    f = p2.reshape(n, -1)
    z3 = f @ W3 + b3
    h3 = np.maximum(z3, 0)
    logits = h3 @ W4 + b4
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    s = e.sum(axis=1, keepdims=True)
    rows = np.arange(n)
    loss = -np.mean(shifted[rows, labels] - np.log(s[:, 0]))
    dlogits = e / s
    dlogits[rows, labels] -= 1
    dlogits /= n
    dW4, db4 = h3.T @ dlogits, dlogits.sum(axis=0)
    dz3 = (dlogits @ W4.T) * (z3 > 0)
    dW3, db3 = f.T @ dz3, dz3.sum(axis=0)
    dz2 = _unpool((dz3 @ W3.T).reshape(p2.shape), m2) * (z2 > 0)
    dp1, dK2 = _conv_grads(p1, K2, dz2)
    dz1 = _unpool(dp1, m1) * (z1 > 0)
    _, dK1 = _conv_grads(x, K1, dz1)
    return loss, dK1, dz1.sum(axis=(0, 1, 2)), dK2, dz2.sum(axis=(0, 1, 2)), dW3, db3, dW4, db4


def reference(inp) -> dict:
    args = [a.astype(np.float64) if a.dtype.kind == "f" else a for a in _args(inp)]
    return {"step": _numpy_step(*args)}


def numpy_by_hand(inp) -> dict:
    return {"step": partial(_numpy_step, *_args(inp))}


# --- adjit ---------------------------------------------------------------------------------------
def _loss(K1, c1, K2, c2, W3, b3, W4, b4, x, labels):
    h = ops.maxpool2d(ops.relu(ops.conv2d(x, K1) + c1), 2)
    h = ops.maxpool2d(ops.relu(ops.conv2d(h, K2) + c2), 2)
    h = ops.relu(ops.reshape(h, (-1, 256)) @ W3 + b3)
    logits = h @ W4 + b4
    onehot = ops.convert(ops.equal(ops.expand_dims(labels, 1), np.arange(10)), "float32")
    return -ops.mean(ops.sum(ops.log_softmax(logits) * onehot, axis=-1))


def adjit(inp) -> dict:
    specs = [engine.Spec(inp[k].shape, "float32") for k in PARAMS]
    specs += [engine.Spec((None, 28, 28, 1), "float32"), engine.Spec((None,), "int64")]
    step = engine.value_and_grad(engine.trace(_loss, *specs), wrt=list(PARAMS))
    return {"step": (step, _args(inp))}


# --- peers ---------------------------------------------------------------------------------------
def _torch_loss(params, x, labels):
    import torch.nn.functional as F
    K1, c1, K2, c2, W3, b3, W4, b4 = params
    h = F.max_pool2d(F.relu(F.conv2d(x, K1, c1)), 2)
    h = F.max_pool2d(F.relu(F.conv2d(h, K2, c2)), 2)
    h = F.relu(h.permute(0, 2, 3, 1).reshape(h.shape[0], -1) @ W3 + b3)  # flatten as NHWC does
    return F.cross_entropy(h @ W4 + b4, labels)


def _torch_params(inp, requires_grad=False):
    """PyTorch's layouts: images NCHW, kernels (out, in, KH, KW)."""
    import torch
    out = []
    for k in PARAMS:
        a = inp[k].transpose(3, 2, 0, 1) if k in ("K1", "K2") else inp[k]
        out.append(torch.from_numpy(np.ascontiguousarray(a)).requires_grad_(requires_grad))
    x = torch.from_numpy(np.ascontiguousarray(inp["x"].transpose(0, 3, 1, 2)))
    return out, x, torch.from_numpy(inp["labels"])


def _from_torch_grads(loss, grads):
    """Back to adjit's layouts, so the harness compares like with like."""
    return (loss,) + tuple(g.permute(2, 3, 1, 0) if g.ndim == 4 else g for g in grads)


def torch_eager(inp) -> dict:
    import torch
    params, x, labels = _torch_params(inp, requires_grad=True)

    def step():
        loss = _torch_loss(params, x, labels)
        return _from_torch_grads(loss.detach(), torch.autograd.grad(loss, params))
    return {"step": step}


def torch_compiled(inp) -> dict:
    import torch
    grad_and_value = torch.func.grad_and_value(_torch_loss)

    @torch.compile
    def step(params, x, labels):
        grads, value = grad_and_value(params, x, labels)
        return (value,) + tuple(grads)
    params, x, labels = _torch_params(inp)

    def run():
        value, *grads = step(tuple(params), x, labels)
        return _from_torch_grads(value, grads)
    return {"step": run}


def jax_jit(inp) -> dict:
    import jax
    import jax.numpy as jnp

    def loss(params, x, labels):
        K1, c1, K2, c2, W3, b3, W4, b4 = params
        dims = ("NHWC", "HWIO", "NHWC")

        def pool(h):
            return jax.lax.reduce_window(h, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
        h = pool(jax.nn.relu(jax.lax.conv_general_dilated(x, K1, (1, 1), "VALID", dimension_numbers=dims) + c1))
        h = pool(jax.nn.relu(jax.lax.conv_general_dilated(h, K2, (1, 1), "VALID", dimension_numbers=dims) + c2))
        h = jax.nn.relu(h.reshape(h.shape[0], -1) @ W3 + b3)
        logits = h @ W4 + b4
        onehot = jax.nn.one_hot(labels, 10, dtype=jnp.float32)
        return -jnp.mean(jnp.sum(jax.nn.log_softmax(logits) * onehot, axis=-1))

    @jax.jit
    def step(params, x, labels):
        value, grads = jax.value_and_grad(loss)(params, x, labels)
        return (value,) + tuple(grads)
    params = tuple(jax.device_put(inp[k]) for k in PARAMS)
    x, labels = jax.device_put(inp["x"]), jax.device_put(inp["labels"])
    return {"step": lambda: jax.block_until_ready(step(params, x, labels))}


PEERS = [("numpy by hand", "numpy", numpy_by_hand), ("PyTorch eager", "torch", torch_eager),
         ("torch.compile", "torch", torch_compiled), ("JAX jit", "jax", jax_jit)]


def targets(results, compile_times) -> list:
    """Issue #4: the LeNet step no slower than PyTorch eager on one thread; the cold compile time."""
    from .report import target_row
    rows = []
    for threads, res in results.items():
        a, adjit_label = res.adjit("step")
        torch_time = res.time("PyTorch eager", "step")
        rows.append(target_row(f"W4: LeNet step no slower than PyTorch eager ({adjit_label or 'adjit'})", threads,
                               None if a is None or torch_time is None else a / torch_time, 1.0, "x",
                               busy=res.busy(adjit_label, "PyTorch eager")))
    probe = compile_times.get("step")
    if probe:
        cold, warm = probe
        rows.append(target_row("W4: cold compile of the step < 3 s (new process, empty cache; W3's goal)", 1,
                               cold["total"], 3.0, " s"))
    return rows
