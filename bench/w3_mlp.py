"""W3 MLP step: 784-256-10, relu, batch 64, softmax cross-entropy on integer labels, float32.

One training step: forward, backward and the SGD update (lr 0.1) of all four parameters. Each
implementation is a pure function ``(W1, b1, W2, b2, x, labels) -> (loss, W1', b1', W2', b2')``;
adjit builds it as one graph (``value_and_grad`` inlined into the update) compiled as one function.
"""
from __future__ import annotations

from functools import partial

import numpy as np

from adjit import engine, ops

NAME = "w3"
TITLE = "W3 MLP step: 784-256-10, relu, batch 64, softmax cross-entropy, SGD lr 0.1, float32"
TASKS = ("step",)
TASK_TITLES = {"step": "step"}
ADJIT_TARGETS = ("cpu", "cpu-parallel", "numpy")
TOL = 1e-3  # float32: normwise relative error of the loss, the new parameters and the gradients
LR = 0.1
PARAMS = ("W1", "b1", "W2", "b2")
PROFILE = ("step",)  # where adjit's time goes, statement by statement, in the report


def inputs(quick: bool) -> dict:
    r = np.random.default_rng(0)
    n_in, hidden, n_out, batch = 784, 256, 10, 64
    f32 = np.float32
    return {"W1": (r.normal(size=(n_in, hidden)) * np.sqrt(2 / n_in)).astype(f32),
            "b1": (r.normal(size=hidden) * 0.01).astype(f32),
            "W2": (r.normal(size=(hidden, n_out)) * np.sqrt(2 / hidden)).astype(f32),
            "b2": (r.normal(size=n_out) * 0.01).astype(f32),
            "x": r.normal(size=(batch, n_in)).astype(f32), "labels": r.integers(0, n_out, batch)}


def _args(inp) -> tuple:
    return tuple(inp[k] for k in PARAMS + ("x", "labels"))


def _numpy_step(W1, b1, W2, b2, x, labels, lr):
    """Forward and backward written out; the reference (in float64) and the numpy peer (float32)."""
    n = x.shape[0]
    rows = np.arange(n)
    z1 = x @ W1 + b1
    h = np.maximum(z1, 0)
    logits = h @ W2 + b2
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    s = e.sum(axis=1, keepdims=True)
    loss = -np.mean(shifted[rows, labels] - np.log(s[:, 0]))
    dlogits = e / s
    dlogits[rows, labels] -= 1
    dlogits /= n
    dz1 = (dlogits @ W2.T) * (z1 > 0)
    grads = (x.T @ dz1, dz1.sum(axis=0), h.T @ dlogits, dlogits.sum(axis=0))
    return (loss,) + tuple(p - lr * g for p, g in zip((W1, b1, W2, b2), grads))


def reference(inp) -> dict:
    args = [a.astype(np.float64) if a.dtype.kind == "f" else a for a in _args(inp)]
    return {"step": _numpy_step(*args, LR)}


def error(inp, task, outs, ref) -> float:
    """The largest normwise relative error of the loss, the new parameters, and the gradients
    implied by them, ``(p - p') / lr`` (so a step that leaves the parameters almost unchanged
    cannot hide a wrong gradient)."""
    from .harness import relative_error
    errs = [relative_error(o, r) for o, r in zip(outs, ref)]
    for p, o, r in zip(PARAMS, outs[1:], ref[1:]):
        p = inp[p].astype(np.float64)
        errs.append(relative_error((p - np.asarray(o, dtype=np.float64)) / LR, (p - r) / LR))
    return max(errs)


def adjit(inp) -> dict:
    def loss(W1, b1, W2, b2, x, labels):
        logits = ops.relu(x @ W1 + b1) @ W2 + b2
        onehot = ops.convert(ops.equal(ops.expand_dims(labels, 1), np.arange(logits.shape[-1])), "float32")
        return -ops.mean(ops.sum(ops.log_softmax(logits) * onehot, axis=-1))
    specs = [engine.Spec(inp[k].shape, "float32") for k in PARAMS]
    specs += [engine.Spec((None, inp["x"].shape[1]), "float32"), engine.Spec((None,), "int64")]
    value_and_grad = engine.value_and_grad(engine.trace(loss, *specs), wrt=list(PARAMS))
    ins = [engine.var(i.name, i.shape, i.dtype) for i in value_and_grad.inputs]
    value, *grads = value_and_grad(*ins)
    step = engine.Function(ins, [value] + [p - LR * g for p, g in zip(ins, grads)], name="mlp_step")
    return {"step": (step, _args(inp))}


def numpy_by_hand(inp) -> dict:
    return {"step": partial(_numpy_step, *_args(inp), LR)}


def numba_by_hand(inp) -> dict:
    import numba

    @numba.njit
    def step(W1, b1, W2, b2, x, labels, lr):
        n, hidden, n_out = x.shape[0], W1.shape[1], W2.shape[1]
        z1 = np.dot(x, W1)
        h = np.empty_like(z1)
        for i in range(n):
            for j in range(hidden):
                z1[i, j] += b1[j]
                h[i, j] = max(z1[i, j], np.float32(0))
        logits = np.dot(h, W2)
        dlogits = np.empty_like(logits)
        loss = 0.0
        for i in range(n):
            m = -np.inf
            for k in range(n_out):
                logits[i, k] += b2[k]
                m = max(m, logits[i, k])
            s = np.float32(0)
            for k in range(n_out):
                dlogits[i, k] = np.exp(logits[i, k] - m)
                s += dlogits[i, k]
            loss -= logits[i, labels[i]] - m - np.log(s)
            for k in range(n_out):
                dlogits[i, k] = (dlogits[i, k] / s - (k == labels[i])) / n
        dh = np.dot(dlogits, W2.T)
        for i in range(n):
            for j in range(hidden):
                if z1[i, j] <= 0:
                    dh[i, j] = 0
        gW1, gW2 = np.dot(x.T, dh), np.dot(h.T, dlogits)
        gb1, gb2 = dh.sum(axis=0), dlogits.sum(axis=0)
        return np.float32(loss / n), W1 - lr * gW1, b1 - lr * gb1, W2 - lr * gW2, b2 - lr * gb2
    return {"step": partial(step, *_args(inp), np.float32(LR))}


def torch_eager(inp) -> dict:
    import torch
    import torch.nn.functional as F
    params = [torch.from_numpy(inp[k]).requires_grad_(True) for k in PARAMS]
    x, labels = torch.from_numpy(inp["x"]), torch.from_numpy(inp["labels"])

    def step():
        W1, b1, W2, b2 = params
        loss = F.cross_entropy(torch.relu(x @ W1 + b1) @ W2 + b2, labels)
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            return (loss.detach(),) + tuple(p - LR * g for p, g in zip(params, grads))
    return {"step": step}


def torch_compiled(inp) -> dict:
    import torch
    import torch.nn.functional as F

    def loss(params, x, labels):
        W1, b1, W2, b2 = params
        return F.cross_entropy(torch.relu(x @ W1 + b1) @ W2 + b2, labels)
    grad_and_value = torch.func.grad_and_value(loss)

    @torch.compile
    def step(params, x, labels):
        grads, value = grad_and_value(params, x, labels)
        return (value,) + tuple(p - LR * g for p, g in zip(params, grads))
    params = tuple(torch.from_numpy(inp[k]) for k in PARAMS)
    return {"step": partial(step, params, torch.from_numpy(inp["x"]), torch.from_numpy(inp["labels"]))}


def jax_jit(inp) -> dict:
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    def loss(params, x, labels):
        W1, b1, W2, b2 = params
        logits = jax.nn.relu(x @ W1 + b1) @ W2 + b2
        onehot = jax.nn.one_hot(labels, logits.shape[-1], dtype=jnp.float32)
        return -jnp.mean(jnp.sum(jax.nn.log_softmax(logits) * onehot, axis=-1))

    @jax.jit
    def step(params, x, labels):
        value, grads = jax.value_and_grad(loss)(params, x, labels)
        return (value,) + tuple(p - LR * g for p, g in zip(params, grads))
    params = tuple(jax.device_put(inp[k]) for k in PARAMS)
    x, labels = jax.device_put(inp["x"]), jax.device_put(inp["labels"])
    return {"step": lambda: jax.block_until_ready(step(params, x, labels))}


def hips_autograd(inp) -> dict:
    import autograd
    import autograd.numpy as anp
    from autograd.scipy.special import logsumexp

    onehot = (inp["labels"][:, None] == np.arange(inp["W2"].shape[1])).astype(np.float32)

    def loss(params, x):
        W1, b1, W2, b2 = params
        logits = anp.dot(anp.maximum(anp.dot(x, W1) + b1, 0), W2) + b2
        logp = logits - logsumexp(logits, axis=1, keepdims=True)
        return -anp.mean(anp.sum(logp * onehot, axis=1))
    value_and_grad = autograd.value_and_grad(loss)
    params = [inp[k] for k in PARAMS]

    def step():
        value, grads = value_and_grad(params, inp["x"])
        return (value,) + tuple(p - np.float32(LR) * g for p, g in zip(params, grads))
    return {"step": step}


PEERS = [("numpy by hand", "numpy", numpy_by_hand), ("numba by hand", "numba", numba_by_hand),
         ("PyTorch eager", "torch", torch_eager), ("torch.compile", "torch", torch_compiled),
         ("JAX jit", "jax", jax_jit), ("HIPS autograd", "autograd", hips_autograd)]


def targets(results, compile_times) -> list:
    """Issue #3: the adjit step faster than every peer; cold compile < 3 s; warm load < 0.5 s."""
    from .report import target_row
    rows = []
    for threads, res in results.items():
        a, adjit_label = res.adjit("step")
        timed = [(res.time(peer, "step"), peer) for peer, _, _ in PEERS]
        timed = [(t, peer) for t, peer in timed if t is not None]
        best = min(timed) if timed else None
        versus = f"{adjit_label or 'adjit'} / {best[1]}, the fastest peer" if best else "no peer ran"
        rows.append(target_row(f"W3: step faster than every peer ({versus})", threads,
                               None if a is None or best is None else a / best[0], 1.0, "x",
                               busy=res.busy(adjit_label, *[peer for peer, _, _ in PEERS])))
    probe = compile_times.get("step")
    if probe:
        cold, warm = probe
        rows.append(target_row("W3: cold compile of the step < 3 s (new process, empty cache)", 1,
                               cold["total"], 3.0, " s"))
        rows.append(target_row("W3: warm load in a new process < 0.5 s (filled cache)", 1,
                               warm["total"], 0.5, " s"))
    return rows
