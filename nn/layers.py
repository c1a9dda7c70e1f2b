"""Layers: configuration, ``init(seed, input_shape) -> params`` and a graph from ``(params, x)``.

A layer holds no state. ``input_shape`` excludes the batch dimension (as in Keras); images are
channels-last (N, H, W, C). ``params`` is a dict of numpy arrays (at ``init``) or of graph nodes
(inside a traced step): a layer builds the same graph from either.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

from .. import ops
from . import activations, initializers


class Param(NamedTuple):
    """What a layer's parameter is: its shape, and how to draw it (with the fans it uses)."""
    shape: tuple
    initializer: Callable
    fan_in: int = 0
    fan_out: int = 0


def _pair(v, what: str) -> tuple:
    pair = (v, v) if isinstance(v, (int, np.integer)) else tuple(v)
    if len(pair) != 2 or not all(isinstance(k, (int, np.integer)) and k > 0 for k in pair):
        raise ValueError(f"{what}: expected a positive int or a pair of them, got {v!r}")
    return tuple(int(k) for k in pair)


class Layer:
    """The interface. ``name`` is given by the model (``dense``, ``dense_1``, ...) unless set.
    ``trainable = False`` freezes the layer's parameters, as in Keras: the model reads them
    through ``stop_gradient`` (their gradient is zero) and the training step passes them
    through without giving them to the optimizer (no update, no weight decay, no state)."""

    kind = "layer"
    dtype = None  # the parameters' dtype: the model's float input dtype unless given, else float32
    trainable = True

    def __init__(self, name: str | None = None):
        self.name = name

    def param_specs(self, input_shape) -> dict:
        """``{name: Param}`` for inputs of ``input_shape`` (without the batch dim): none by default."""
        return {}

    def init(self, seed, input_shape) -> dict:
        """The parameters as numpy arrays, drawn from ``seed``."""
        rng = np.random.default_rng(seed)
        return {k: p.initializer(rng, p.shape, p.fan_in, p.fan_out, self.dtype or "float32")
                for k, p in self.param_specs(input_shape).items()}

    def __call__(self, params: dict, x, training: bool = False, key=None):
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}({self.name or ''})"


class Dense(Layer):
    """``activation(x @ kernel + bias)`` over the last axis."""

    kind = "dense"

    def __init__(self, units: int, activation=None, use_bias: bool = True,
                 kernel_initializer="glorot_uniform", dtype=None, name=None):
        super().__init__(name)
        self.units, self.use_bias, self.dtype = int(units), use_bias, dtype
        self.activation = activations.get(activation)
        self.kernel_initializer = initializers.get(kernel_initializer)

    def param_specs(self, input_shape) -> dict:
        fan_in = int(input_shape[-1])
        specs = {"kernel": Param((fan_in, self.units), self.kernel_initializer, fan_in, self.units)}
        if self.use_bias:
            specs["bias"] = Param((self.units,), initializers.zeros)
        return specs

    def __call__(self, params, x, training=False, key=None):
        y = x @ params["kernel"]
        return self.activation(y + params["bias"] if self.use_bias else y)


class Conv2D(Layer):
    """2-D cross-correlation over channels-last images; kernel (KH, KW, Cin, filters)."""

    kind = "conv2d"

    def __init__(self, filters: int, kernel_size, strides=(1, 1), padding="valid", dilation_rate=(1, 1),
                 activation=None, use_bias: bool = True, kernel_initializer="glorot_uniform",
                 dtype=None, name=None):
        super().__init__(name)
        self.filters, self.use_bias, self.dtype = int(filters), use_bias, dtype
        self.kernel_size = _pair(kernel_size, "Conv2D kernel_size")
        self.strides = _pair(strides, "Conv2D strides")
        self.dilation_rate = _pair(dilation_rate, "Conv2D dilation_rate")
        self.padding = padding
        self.activation = activations.get(activation)
        self.kernel_initializer = initializers.get(kernel_initializer)

    def param_specs(self, input_shape) -> dict:
        kh, kw = self.kernel_size
        cin = int(input_shape[-1])
        specs = {"kernel": Param((kh, kw, cin, self.filters), self.kernel_initializer,
                                 kh * kw * cin, kh * kw * self.filters)}
        if self.use_bias:
            specs["bias"] = Param((self.filters,), initializers.zeros)
        return specs

    def __call__(self, params, x, training=False, key=None):
        y = ops.conv2d(x, params["kernel"], stride=self.strides, padding=self.padding, dilation=self.dilation_rate)
        return self.activation(y + params["bias"] if self.use_bias else y)


class MaxPool2D(Layer):
    """The largest value of each window (ties: the first in row-major order)."""

    kind = "max_pooling2d"

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", name=None):
        super().__init__(name)
        self.pool_size = _pair(pool_size, f"{type(self).__name__} pool_size")
        self.strides = None if strides is None else _pair(strides, f"{type(self).__name__} strides")
        self.padding = padding

    def __call__(self, params, x, training=False, key=None):
        return ops.maxpool2d(x, self.pool_size, self.strides, self.padding)


class AvgPool2D(MaxPool2D):
    """The mean of each window (padded cells are not counted)."""

    kind = "average_pooling2d"

    def __call__(self, params, x, training=False, key=None):
        return ops.avgpool2d(x, self.pool_size, self.strides, self.padding)


class GlobalAvgPool2D(Layer):
    """(N, H, W, C) -> (N, C): the mean of each feature map (the input of a class activation map)."""

    kind = "global_average_pooling2d"

    def __call__(self, params, x, training=False, key=None):
        return ops.global_avgpool(x)


class Flatten(Layer):
    """(N, ...) -> (N, prod(...)), in C order (as Keras flattens channels-last maps)."""

    kind = "flatten"

    def __call__(self, params, x, training=False, key=None):
        size = int(np.prod(x.shape[1:]))
        return ops.reshape(x, (-1, size))


class Activation(Layer):
    kind = "activation"

    def __init__(self, activation, name=None):
        super().__init__(name)
        self.activation = activations.get(activation)

    def __call__(self, params, x, training=False, key=None):
        return self.activation(x)


class Embedding(Layer):
    """Integer ids (N, ...) -> vectors (N, ..., output_dim): a gather, whose gradient is a
    scatter-add into the rows that were used (no one-hot matrix product). ``from_pretrained``
    starts from given vectors, frozen by default."""

    kind = "embedding"

    def __init__(self, input_dim: int, output_dim: int, embeddings_initializer="uniform", dtype=None,
                 name=None, trainable: bool = True):
        super().__init__(name)
        self.input_dim, self.output_dim, self.dtype = int(input_dim), int(output_dim), dtype
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.trainable = bool(trainable)

    @classmethod
    def from_pretrained(cls, matrix, trainable: bool = False, name=None) -> "Embedding":
        """An embedding whose ``init`` gives a copy of ``matrix`` (vocabulary x dim), e.g. from
        ``nn.vectors.read_vec(path).embedding_matrix(vocab)``; frozen unless ``trainable``
        (PyTorch's ``from_pretrained(freeze=True)``).

        >>> import numpy as np
        >>> layer = Embedding.from_pretrained(np.eye(3, dtype=np.float32))
        >>> layer.trainable, layer.init(0, (5,))["embeddings"].shape
        (False, (3, 3))
        """
        matrix = np.asarray(matrix)
        if matrix.ndim != 2:
            raise ValueError(f"Embedding.from_pretrained: expected a (vocabulary, dim) matrix, "
                             f"got shape {matrix.shape}")
        return cls(matrix.shape[0], matrix.shape[1], initializers.constant(matrix), matrix.dtype.name, name, trainable)

    def param_specs(self, input_shape) -> dict:
        return {"embeddings": Param((self.input_dim, self.output_dim), self.embeddings_initializer,
                                    self.input_dim, self.output_dim)}

    def __call__(self, params, x, training=False, key=None):
        return ops.take(params["embeddings"], x)


class Dropout(Layer):
    """In training, zero each unit with probability ``rate`` and scale the others by
    1/(1-rate) (inverted dropout, Srivastava et al. 2014); the identity at evaluation. The mask
    comes from ``ops.uniform(key, x)``: the key is an input of the training step (``fit`` passes
    a new one per step), so the compiled step stays a pure function."""

    kind = "dropout"

    def __init__(self, rate: float, name=None):
        super().__init__(name)
        if not 0 <= rate < 1:
            raise ValueError(f"Dropout: rate must be in [0, 1), got {rate!r}")
        self.rate = float(rate)

    def __call__(self, params, x, training=False, key=None):
        if not training or self.rate == 0:
            return x
        if key is None:
            raise ValueError(f"{self.name or 'Dropout'}: training needs a random key (fit and train_step pass one)")
        keep = ops.uniform(key, x) >= self.rate
        return ops.where(keep, x * (1.0 / (1.0 - self.rate)), 0.0)
