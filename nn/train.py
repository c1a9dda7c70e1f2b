"""Compiled training: one function per step (forward, gradient and optimizer update together),
a compiled batched forward pass, and ``fit`` with progress, validation and history.
"""
from __future__ import annotations

import sys
import time

import numpy as np

from .. import compiler
from ..engine import Function, value_and_grad, var
from . import losses, metrics as metric_fns
from .history import History


def _vars(prefix: str, arrays: dict) -> dict:
    return {k: var(f"{prefix}{k}", np.shape(a), np.asarray(a).dtype.name) for k, a in arrays.items()}


def _batch_spec(a) -> tuple:
    a = np.asarray(a)
    return (None,) + a.shape[1:], a.dtype.name if a.dtype.kind != "i" else "int64"


class TrainStep:
    """``step(params, state, x, y, key=0) -> (loss, predictions, params, state)``, compiled once
    for every batch size: the loss, its gradient (reverse mode) and the optimizer's update are one
    generated function (``.compiled.source``). Parameters of layers that are not ``trainable``
    are inputs only: not differentiated, not given to the optimizer, returned as they came."""

    def __init__(self, model, loss, optimizer, params: dict, state: dict, y_example, target="cpu"):
        self.model, self.loss, self.optimizer = model, losses.get(loss), optimizer
        self.keys = [k for k in params if model.is_trainable(k)]
        self.frozen = [k for k in params if not model.is_trainable(k)]
        self.state_keys = list(state)
        p = _vars("", {k: params[k] for k in self.keys + self.frozen})
        s = _vars("state/", state)
        x = var("x", (None,) + model.input_shape, model.input_dtype)
        y = var("y", *_batch_spec(y_example))
        key = var("key", (), "int64")
        names = self.keys + self.frozen

        def objective(*flat):
            preds = model(dict(zip(names, flat[:len(names)])), flat[-3], training=True, key=flat[-1])
            return self.loss(preds, flat[-2]), preds
        inputs = list(p.values()) + [x, y, key]
        forward = Function(inputs, objective(*inputs), name="objective")
        wrt = [i.name for i in inputs[:len(self.keys)]]
        grad_f = value_and_grad(Function(inputs, forward.outputs[0], name="loss"), wrt=wrt)
        value, *grads = grad_f(*inputs)
        trained = {k: p[k] for k in self.keys}
        new_params, new_state = optimizer.update(trained, dict(zip(self.keys, grads)), s)
        outputs = [value, forward.outputs[1]] + [new_params[k] for k in self.keys] + [new_state[k] for k in self.state_keys]
        self.function = Function(list(p.values()) + list(s.values()) + [x, y, key], outputs, name="train_step")
        self.compiled = compiler.jit(self.function, target)

    def __call__(self, params: dict, state: dict, x, y, key: int = 0) -> tuple:
        out = self.compiled(*[params[k] for k in self.keys + self.frozen], *[state[k] for k in self.state_keys],
                            x, y, key)
        n = len(self.keys)
        updated = dict(zip(self.keys, out[2:2 + n]))
        new_params = {k: updated.get(k, v) for k, v in params.items()}
        return out[0], out[1], new_params, dict(zip(self.state_keys, out[2 + n:]))


def trainable(model, params: dict) -> dict:
    """The entries of ``params`` that training updates (of layers that are ``trainable``): what
    the optimizer's state is made for (``optimizer.init(trainable(model, params))``)."""
    return {k: v for k, v in params.items() if model.is_trainable(k)}


def train_step(model, loss, optimizer, params: dict, y_example, state: dict | None = None, target="cpu") -> TrainStep:
    """The compiled training step of ``model`` (see ``TrainStep``)."""
    return TrainStep(model, loss, optimizer, params,
                     optimizer.init(trainable(model, params)) if state is None else state, y_example, target)


class Evaluator:
    """Compiled forward pass (``training=False``): ``predict(params, X)`` in batches, and
    ``loss(params, X, y)``."""

    def __init__(self, model, params: dict, loss=None, y_example=None, target="cpu"):
        self.model, self.keys = model, list(params)
        p = _vars("", params)
        x = var("x", (None,) + model.input_shape, model.input_dtype)
        preds = model(p, x, training=False)
        self.forward = compiler.jit(Function(list(p.values()) + [x], preds, name="predict"), target)
        self.with_loss = None
        if loss is not None:
            y = var("y", *_batch_spec(y_example))
            f = Function(list(p.values()) + [x, y], [losses.get(loss)(preds, y), preds], name="evaluate")
            self.with_loss = compiler.jit(f, target)

    def predict(self, params: dict, X, batch_size: int = 256) -> np.ndarray:
        args = [params[k] for k in self.keys]
        outs = [self.forward(*args, X[i:i + batch_size]) for i in range(0, len(X), batch_size)]
        return np.concatenate(outs) if outs else np.zeros((0,))

    def evaluate(self, params: dict, X, y, batch_size: int = 256) -> tuple:
        """(mean loss over the samples, predictions)."""
        args = [params[k] for k in self.keys]
        total, preds = 0.0, []
        for i in range(0, len(X), batch_size):
            value, p = self.with_loss(*args, X[i:i + batch_size], y[i:i + batch_size])
            total += float(value) * len(p)
            preds.append(p)
        return total / max(len(X), 1), np.concatenate(preds)


def predict(model, params: dict, X, batch_size: int = 256, target="cpu") -> np.ndarray:
    """The model's outputs for ``X`` as one numpy array (compiled, in batches)."""
    X = np.asarray(X, dtype=model.input_dtype)
    return Evaluator(model, params, target=target).predict(params, X, batch_size)


def _progress(total: int, desc: str, verbose):
    """A tqdm bar on a terminal (``verbose=None``), always (True) or never (False)."""
    from tqdm.auto import tqdm
    disable = not sys.stderr.isatty() if verbose is None else not verbose
    return tqdm(total=total, desc=desc, unit="sample", disable=disable, leave=True, dynamic_ncols=True)


def fit(model, params: dict, data, loss, optimizer, epochs: int = 1, batch_size: int = 32,
        validation=None, seed: int = 0, metrics=None, verbose=None, history_file=None,
        plot_file=None, target="cpu", state=None) -> tuple:
    """Train ``model`` on ``data = (X, y)``; return ``(params, history)``.

    Each epoch shuffles with a generator seeded by ``seed`` and the epoch, runs the compiled step
    on each batch (the last one may be smaller: the step is compiled for any batch size), then
    evaluates on ``validation = (Xv, yv)``. ``metrics`` (names or functions of predictions and
    labels; default: accuracy for the cross-entropy losses) are reported for the training batches
    and the validation set. ``history_file`` (``.csv`` or ``.json``) and ``plot_file`` (``.png``,
    needs matplotlib) are written at the end. The optimizer state is in ``history.state``.
    """
    X, y = np.asarray(data[0], dtype=model.input_dtype), np.asarray(data[1])
    if len(X) != len(y):
        raise ValueError(f"fit: {len(X)} inputs but {len(y)} targets")
    if metrics is None:
        metrics = ["accuracy"] if losses.get(loss) in (losses.softmax_cross_entropy,
                                                        losses.softmax_cross_entropy_onehot) else []
    named = {m if isinstance(m, str) else m.__name__: metric_fns.get(m) for m in metrics}
    start = time.perf_counter()
    step = train_step(model, loss, optimizer, params, y[:1], state, target)
    evaluator = Evaluator(model, params, loss, y[:1], target) if validation is not None else None
    state = optimizer.init(trainable(model, params)) if state is None else state
    history = History()
    compile_seconds = None
    for epoch in range(epochs):
        order = np.random.default_rng([seed, epoch]).permutation(len(X))
        sums, seen, epoch_start = {"loss": 0.0, **{m: 0.0 for m in named}}, 0, time.perf_counter()
        with _progress(len(X), f"epoch {epoch + 1}/{epochs}", verbose) as bar:
            for b, i in enumerate(range(0, len(X), batch_size)):
                idx = order[i:i + batch_size]
                value, preds, params, state = step(params, state, X[idx], y[idx], seed * 1_000_003 + epoch * 100_003 + b)
                if compile_seconds is None:
                    compile_seconds = time.perf_counter() - start
                    epoch_start = time.perf_counter()
                sums["loss"] += float(value) * len(idx)
                for m, fn in named.items():
                    sums[m] += fn(preds, y[idx]) * len(idx)
                seen += len(idx)
                bar.update(len(idx))
                rate = seen / max(time.perf_counter() - epoch_start, 1e-9)
                bar.set_postfix({k: f"{v / seen:.4f}" for k, v in sums.items()} | {"samples/s": f"{rate:,.0f}"})
            row = {k: v / max(seen, 1) for k, v in sums.items()}
            row["seconds"] = time.perf_counter() - epoch_start
            row["samples_per_s"] = seen / max(row["seconds"], 1e-9)
            if evaluator is not None:
                Xv, yv = np.asarray(validation[0], dtype=model.input_dtype), np.asarray(validation[1])
                row["val_loss"], preds = evaluator.evaluate(params, Xv, yv)
                row.update({f"val_{m}": fn(preds, yv) for m, fn in named.items()})
                bar.set_postfix({k: f"{v:.4f}" for k, v in row.items() if k not in ("seconds", "samples_per_s")})
        history.append(epoch + 1, row)
    history.compile_seconds, history.state = compile_seconds, state
    if history_file is not None:
        history.save(history_file)
    if plot_file is not None:
        history.plot(plot_file)
    return params, history
