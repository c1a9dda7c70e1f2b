"""The primitives, declared once each in one registry, and the functions that build them.

Families: elementwise, reductions, shape/indexing, linear algebra, the stable softmax family,
convolution and pooling, the fused LSTM cell, and control flow (scan).
"""
from . import control, elementwise, linalg, random, reductions, shape  # noqa: F401  (declare the primitives)
from .api import (abs, add, broadcast_to, concatenate, convert, cos, div, dot, equal, exp, expand_dims,
                  getitem, greater, greater_equal, less, less_equal, log, log1p, log_softmax,
                  logical_not, logsumexp, matmul, max, maximum, mean, minimum, mul, neg, not_equal,
                  ones_like, pow, relu, reshape, sigmoid, sign, sin, softmax, sqrt, squeeze, stack,
                  stop_gradient, sub, sum, swapaxes, take, tan, tanh, transpose, where, zeros_like)
from .control import scan
from .conv import avgpool2d, conv2d, global_avgpool, maxpool2d  # (declares their primitives)
from .lstm import lstm_cell  # (declares lstm_cell and lstm_cell_grad)
from .random import uniform
from ..engine.primitive import REGISTRY

_MODULES = ("control", "elementwise", "linalg", "random", "reductions", "scan_rules", "shape", "conv", "conv_kernels",
            "lstm", "lstm_kernels")
__all__ = [n for n in dir() if not n.startswith("_") and n not in _MODULES]
