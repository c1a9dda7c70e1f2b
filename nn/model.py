"""Models: ``Sequential`` (a stack of layers) and ``Model`` (any function of layers).

A model's parameters are one flat dict ``{"layer/param": array}`` (``"dense/kernel"``), so that
optimizers map over it, ``nn.save`` writes it as it is, and a compiled step takes one argument
per entry, named after it.
"""
from __future__ import annotations

import numpy as np

from .. import ops
from ..engine import var
from .layers import Layer


def _layer_params(params: dict, name: str) -> dict:
    prefix = name + "/"
    return {k[len(prefix):]: v for k, v in params.items() if k.startswith(prefix)}


class Model:
    """A model from a function ``forward(call, x)`` where ``call(layer, h, **kwargs)`` applies a
    layer (declared in ``layers``) to a node, with keyword arguments for the layer if it takes
    any (as Keras' ``decoder(x, initial_state=s)``): for models that are not a stack (skips, two
    heads, an encoder and a decoder).

    >>> from adjit import nn
    >>> a, b = nn.Dense(4, activation="relu"), nn.Dense(2)
    >>> model = nn.Model([a, b], lambda call, x: call(b, call(a, x) + x[:, :1]), input_shape=(3,))
    >>> sorted(model.init(seed=0))
    ['dense/bias', 'dense/kernel', 'dense_1/bias', 'dense_1/kernel']
    """

    def __init__(self, layers, forward, input_shape, input_dtype="float32", name="model"):
        self.layers = list(layers)
        for layer in self.layers:
            if not isinstance(layer, Layer):
                raise TypeError(f"{name}: expected layers, got {layer!r}")
        self.forward, self.name = forward, name
        self.input_shape, self.input_dtype = tuple(input_shape), input_dtype
        for layer in self.layers:  # float64 inputs make float64 parameters, unless a layer says otherwise
            if layer.dtype is None:
                layer.dtype = input_dtype if input_dtype in ("float32", "float64") else "float32"
        _name_layers(self.layers)

    def _build(self, make_params) -> dict:
        """Walk the model on a symbolic input; ``make_params(layer, k, input_shape)`` gives each
        layer's parameters (arrays or specs). Returns them flat, and records output shapes."""
        params, self._shapes = {}, {}

        def call(layer, h, **kwargs):
            own = make_params(layer, self.layers.index(layer), h.shape[1:])
            params.update({f"{layer.name}/{k}": v for k, v in own.items()})
            out = layer({k: var(f"{layer.name}/{k}", v.shape, layer.dtype if hasattr(v, "initializer") else v.dtype.name)
                         for k, v in own.items()}, h, **kwargs)
            self._shapes[layer.name] = out.shape
            return out
        self._output_shape = self.forward(call, var("x", (None,) + self.input_shape, self.input_dtype)).shape
        return params

    def init(self, seed: int = 0) -> dict:
        """Parameters for every layer (seeded per layer, so adding a layer keeps the others')."""
        return self._build(lambda layer, k, shape: layer.init(np.random.SeedSequence([seed, k]), shape))

    def param_shapes(self) -> dict:
        """``{"layer/param": shape}`` without drawing any numbers (AlexNet's are 250 MB)."""
        return {k: p.shape for k, p in self._build(lambda layer, k, shape: layer.param_specs(shape)).items()}

    def __call__(self, params: dict, x, training: bool = False, key=None, capture: dict | None = None):
        """The model's output node for input ``x`` (a node), with ``params`` (nodes or arrays).
        A dict ``capture`` receives each layer's output node under the layer's name (the feature
        maps of a CNN's conv layers, say)."""
        def call(layer, h, **kwargs):
            k = None if key is None else key * 1000003 + self.layers.index(layer)
            own = _layer_params(params, layer.name)
            if not layer.trainable:  # frozen: no gradient flows into its parameters
                own = {name: ops.stop_gradient(v) for name, v in own.items()}
            out = layer(own, h, training=training, key=k, **kwargs)
            if capture is not None:
                capture[layer.name] = out
            return out
        return self.forward(call, x)

    def layer_params(self, params: dict, layer) -> dict:
        """The entries of ``params`` that belong to ``layer``, under the layer's own names
        (``{"kernel": ..., "bias": ...}``): to apply one layer alone, as ``layer(own, h)``."""
        return _layer_params(params, layer.name)

    def is_trainable(self, key: str) -> bool:
        """Whether parameter ``key`` (``"layer/param"``) is trained: its layer's ``trainable``."""
        for layer in self.layers:
            if key.startswith(layer.name + "/"):
                return layer.trainable
        raise KeyError(f"{self.name}: no layer owns the parameter {key!r}")

    def summary(self, print_fn=print) -> str:
        """Each layer's output shape and parameter count, and the totals, as Keras prints them."""
        shapes = self.param_shapes()
        rows = [("Layer (type)", "Output Shape", "Param #")]
        for layer in self.layers:
            count = sum(int(np.prod(s)) for s in _layer_params(shapes, layer.name).values())
            shape = "(None, " + ", ".join(str(d) for d in self._shapes[layer.name][1:]) + ")"
            rows.append((f"{layer.name} ({type(layer).__name__})", shape.replace(", )", ")"), f"{count:,}"))
        width = [max(len(r[c]) for r in rows) + 3 for c in range(3)]
        line = "=" * sum(width)
        text = [f'Model: "{self.name}"', line, "".join(c.ljust(w) for c, w in zip(rows[0], width)), line]
        text += ["".join(c.ljust(w) for c, w in zip(r, width)) for r in rows[1:]]
        total = self.count_params()
        trained = sum(int(np.prod(s)) for k, s in shapes.items() if self.is_trainable(k))
        text += [line, f"Total params: {total:,}", f"Trainable params: {trained:,}",
                 f"Non-trainable params: {total - trained:,}"]
        out = "\n".join(text)
        if print_fn is not None:
            print_fn(out)
        return out

    def count_params(self) -> int:
        return sum(int(np.prod(s)) for s in self.param_shapes().values())

    def output_shape(self) -> tuple:
        """The shape of the model's output, ``None`` for the batch."""
        self.param_shapes()
        return self._output_shape


class Sequential(Model):
    """A stack of layers, each applied to the output of the one before (Keras' Sequential).

    >>> from adjit import nn
    >>> model = nn.Sequential([nn.Dense(8, activation="relu"), nn.Dense(3)], input_shape=(4,))
    >>> model.count_params()
    67
    """

    def __init__(self, layers, input_shape, input_dtype="float32", name="sequential"):
        def forward(call, x):
            for layer in self.layers:
                x = call(layer, x)
            return x
        super().__init__(layers, forward, input_shape, input_dtype, name)


def _name_layers(layers) -> None:
    """Keras-style unique names: the first Dense is ``dense``, the next ``dense_1``."""
    taken = {layer.name for layer in layers if layer.name}
    counts: dict = {}
    for layer in layers:
        if layer.name:
            continue
        k = counts.get(layer.kind, 0)
        name = layer.kind if k == 0 else f"{layer.kind}_{k}"
        while name in taken:
            k += 1
            name = f"{layer.kind}_{k}"
        counts[layer.kind] = k + 1
        layer.name = name
        taken.add(name)
    if len(taken) != len(layers):
        raise ValueError("model: two layers have the same name")
